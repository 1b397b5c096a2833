import type { Client, InArgs, InStatement, Transaction } from '@libsql/client';
import { and, fillPlaceholders, type Query } from 'drizzle-orm';
import {
  completedRecordValues,
  completionValues,
  type IdempotencyRecordRow,
  recordFromRow,
  stepsColumn,
} from '../../drizzle/recordRow';
import { recordStatementParts } from '../../drizzle/recordStatements';
import {
  claimOrFind,
  insertCompletedOrFind,
  positiveInteger,
  purgeInBatches,
} from '../../drizzle/storeOperations';
import type { StoredOutcome } from '../../store/record';
import type { CommitOptions, CommitResult, IdempotencyStore } from '../../store/store';
import type { LibsqlDb } from '../driver';
import { ADD_COLUMN, SQLITE_MIGRATIONS_TABLE, shippedSqliteMigrations } from '../migrations';
import { purgeWalks } from '../purgeWalks';
import { idempotencyRecords as t } from '../schema';
import type { SqliteIdempotencyStoreOptions } from '../store';

/**
 * The SQLite store on libSQL (`drizzle-orm/libsql`, `@libsql/client`), whose
 * transactions are asynchronous: `client.transaction('write')` is `BEGIN
 * IMMEDIATE` on a connection of its own (a local `file:` database: the
 * client keeps a pool, and a transaction borrows one until it ends) or on a
 * stream of its own (a remote database: an interactive transaction over
 * Hrana, which the server runs on a connection of its own). So no other
 * request's statement runs inside it, and nothing uncommitted is seen by one.
 *
 * A transactional first execution runs the handler's writes, then deletes a
 * replaceable record and inserts the completed one; a live record holding the
 * key fails that insert on the primary key, and everything rolls back (the
 * record is returned, `found`). On a remote database COMMIT travels in the
 * same batch, so the record costs one round trip.
 *
 * A local file is locked per connection, and libSQL's calls are synchronous:
 * a write waiting on a lock that a transaction of this same process holds
 * would wait on the event loop that transaction needs. So on a local file the
 * store's writes take turns in this process (one queue per client), and only
 * ever wait for another process's lock, with the client's busy timeout
 * (`timeout`), which a local file needs: libSQL leaves a statement that
 * failed with `SQLITE_BUSY` active on its pooled connection, whose later
 * commits then fail (README.md#sqlite-drivers).
 */
export function libsqlStore<TTx>(
  db: LibsqlDb,
  opts: Omit<SqliteIdempotencyStoreOptions<LibsqlDb>, 'db'>,
): IdempotencyStore<TTx> & { transactionKind: 'async' } {
  const client = db.$client;
  const local = client.protocol === 'file';
  if (opts.busyTimeoutMs !== undefined) {
    throw new TypeError(
      "sqliteIdempotencyStore: busyTimeoutMs is better-sqlite3's; on libSQL, set the client's busy timeout: createClient({ url, timeout })",
    );
  }
  const purgeBatchSize = positiveInteger(
    'sqliteIdempotencyStore',
    'purgeBatchSize',
    opts.purgeBatchSize ?? 1000,
  );
  checkDrizzleSession(db);
  const pragmas = opts.pragmas ?? true;
  const takeTurn = local ? writeTurnsOf(client) : <T>(op: () => Promise<T>) => op();

  // Checked before the first statement: creating the store is synchronous, and the client is not.
  let ready: Promise<void> | undefined;
  const setUp = () => {
    ready ??= setUpDatabase(client, { local, pragmas }).catch((error: unknown) => {
      ready = undefined;
      throw error;
    });
    return ready;
  };
  /** A read: no turn needed (WAL readers never wait on writers). */
  const read = async <T>(op: () => Promise<T>) => {
    await setUp();
    return op();
  };
  /** A write outside a transaction, in its turn on a local file. */
  const write = async <T>(op: () => Promise<T>) => {
    await setUp();
    return takeTurn(op);
  };

  const {
    p,
    gone,
    responseExpired,
    dropResponseSet,
    ownedInProgress,
    byId,
    liveById,
    replaceable,
    replaceableBy,
    claimValues,
    claimSet,
    completedValues,
    completedSet,
    completeSet,
    renewSet,
    stepsSet,
  } = recordStatementParts(t);

  const findStatement = db.select().from(t).where(liveById).prepare();
  const claimStatement = db
    .insert(t)
    .values(claimValues)
    .onConflictDoUpdate({ target: [t.scope, t.key], set: claimSet, setWhere: replaceable })
    .returning()
    .prepare();
  const insertCompletedStatement = db
    .insert(t)
    .values(completedValues)
    .onConflictDoUpdate({ target: [t.scope, t.key], set: completedSet, setWhere: replaceable })
    .prepare();
  const completeStatement = db.update(t).set(completeSet).where(ownedInProgress).prepare();
  const releaseStatement = db.delete(t).where(ownedInProgress).prepare();
  const renewStatement = db.update(t).set(renewSet).where(ownedInProgress).prepare();
  const saveStepsStatement = db.update(t).set(stepsSet).where(ownedInProgress).prepare();
  const walks = purgeWalks(db, { p, gone, responseExpired, dropResponseSet });
  const purgeStatement = walks.deleteGone.prepare();
  const dropResponsesStatement = walks.dropResponses.prepare();
  // The end of a transactional execution, run on the transaction's own
  // libSQL handle as one batch: a replaceable record makes way, then the
  // completed record's plain insert fails on the primary key if a live record
  // holds the key.
  const endOfCommit = [
    libsqlStatement(
      db
        .delete(t)
        .where(and(byId, replaceableBy({ path: p('path'), fingerprint: p('fingerprint') })))
        .toSQL(),
    ),
    libsqlStatement(db.insert(t).values(completedValues).toSQL()),
  ];
  const RECORD_INSERT = 1;

  const find = (id: { scope: string; key: string; now: number }) =>
    read(async () => {
      const row = (await findStatement.get(id)) as IdempotencyRecordRow | undefined;
      return row ? recordFromRow(row) : undefined;
    });
  const changed = (
    statement: { run(values: Record<string, unknown>): Promise<{ rowsAffected: number }> },
    values: Record<string, unknown>,
  ) => write(async () => (await statement.run(values)).rowsAffected === 1);

  /** One transactional execution's transaction. */
  const commitInTransaction = <R>(
    commit: CommitOptions,
    run: (tx: TTx) => R,
    encode: (result: Awaited<R>) => StoredOutcome,
  ) =>
    new Promise<CommitResult<Awaited<R>>>((resolve, reject) => {
      let ending = false;
      let answered = false;
      let committed: { result: Awaited<R>; outcome: StoredOutcome } | undefined;
      db.transaction(async (tx) => {
        const result = (await run(tx as unknown as TTx)) as Awaited<R>;
        const outcome = encode(result);
        const values = completedRecordValues(commit, outcome);
        ending = true;
        const statements = endOfCommit.map((statement) => statement(values));
        if (local) {
          await libsqlTransactionOf(tx).batch(statements);
          committed = { result, outcome };
          return;
        }
        // Remote: COMMIT in the same round trip. Drizzle's own COMMIT then
        // finds no transaction and fails, after the answer: that is ignored.
        await libsqlTransactionOf(tx).batch([...statements, { sql: 'COMMIT', args: [] }]);
        answered = true;
        resolve({ status: 'committed', result, outcome });
      }).then(
        () => {
          if (committed) resolve({ status: 'committed', ...committed });
        },
        (error: unknown) => {
          if (answered) return;
          if (ending && failedStatement(error) === RECORD_INSERT && isConstraint(error)) {
            find(commit).then(
              (record) => resolve(record ? { status: 'found', record } : { status: 'busy' }),
              reject,
            );
          } else {
            reject(error);
          }
        },
      );
    });

  return {
    transactionKind: 'async',
    find,
    async commit<R>(
      commit: CommitOptions,
      run: (tx: TTx) => R,
      encode: (result: Awaited<R>) => StoredOutcome,
    ): Promise<CommitResult<Awaited<R>>> {
      await setUp();
      return takeTurn(() => commitInTransaction(commit, run, encode));
    },
    insertCompleted: (opts) =>
      insertCompletedOrFind(
        opts.outcome,
        () => changed(insertCompletedStatement, completedRecordValues(opts, opts.outcome)),
        () => find(opts),
      ),
    claim: (claim) =>
      claimOrFind(
        async () => {
          const row = (await write(() => claimStatement.get({ ...claim }))) as
            | IdempotencyRecordRow
            | undefined;
          return row && recordFromRow(row);
        },
        () => find(claim),
      ),
    renewLease: (renew) => changed(renewStatement, { ...renew }),
    saveSteps: (save) =>
      changed(saveStepsStatement, {
        scope: save.scope,
        key: save.key,
        owner: save.owner,
        steps: stepsColumn(save.steps),
      }),
    complete: (complete) => changed(completeStatement, completionValues(complete)),
    release: (fenced) => changed(releaseStatement, { ...fenced }),
    purge: (purge) =>
      purgeInBatches(
        purge,
        purgeBatchSize,
        (limit) =>
          write(async () => (await purgeStatement.run({ now: purge.now, limit })).rowsAffected),
        (limit) =>
          write(
            async () => (await dropResponsesStatement.run({ now: purge.now, limit })).rowsAffected,
          ),
      ),
  };
}

/**
 * `migrateSqliteIdempotencyStore` on libSQL: the same shipped migrations in
 * one write transaction (`BEGIN IMMEDIATE`), so a second process starting at
 * the same moment waits, then finds everything applied.
 */
export async function migrateLibsql(db: LibsqlDb): Promise<void> {
  const client = db.$client;
  if (client.protocol === 'file') await checkLocalFile(client);
  const migrations = shippedSqliteMigrations();
  await client.execute(
    `CREATE TABLE IF NOT EXISTS "${SQLITE_MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
  );
  const tx = await client.transaction('write');
  try {
    const { rows } = await tx.execute(
      `SELECT created_at FROM "${SQLITE_MIGRATIONS_TABLE}" ORDER BY created_at DESC LIMIT 1`,
    );
    const appliedUpTo = Number(rows[0]?.['created_at'] ?? 0);
    for (const migration of migrations) {
      if (migration.folderMillis <= appliedUpTo) continue;
      for (const statement of migration.sql) {
        // A column your own drizzle-kit migration already added is not added twice.
        const added = ADD_COLUMN.exec(statement);
        if (added) {
          const columns = await tx.execute({
            sql: 'SELECT name FROM pragma_table_info(?)',
            args: [added[1]!],
          });
          if (columns.rows.some((row) => row['name'] === added[2])) continue;
        }
        await tx.execute(statement);
      }
      await tx.execute({
        sql: `INSERT INTO "${SQLITE_MIGRATIONS_TABLE}" ("hash", "created_at") VALUES (?, ?)`,
        args: [migration.hash, migration.folderMillis],
      });
    }
    await tx.commit();
  } finally {
    tx.close();
  }
}

/**
 * What a local libSQL database must be for the store: a file (an in-memory
 * one has a single connection, which a transaction holds until it ends), on
 * a client with a busy timeout (every connection of its pool has the same).
 */
async function checkLocalFile(client: Client) {
  const { rows } = await client.execute(
    "SELECT file FROM pragma_database_list WHERE name = 'main'",
  );
  if (!rows[0]?.['file']) {
    throw new Error(
      'trpc-idempotency: an in-memory libSQL database has one connection, which a transaction holds until it ends: use a file (file:PATH), or better-sqlite3 for an in-memory database',
    );
  }
  const timeout = await client.execute('PRAGMA busy_timeout');
  if (!Number(timeout.rows[0]?.[0])) {
    throw new Error(
      "trpc-idempotency: a libSQL file needs the client's busy timeout, e.g. drizzle({ connection: { url: 'file:app.db', timeout: 5000 } }): without it a statement that meets another connection's lock fails at once, and libSQL leaves it active on its connection, whose later commits then fail",
    );
  }
}

async function setUpDatabase(client: Client, opts: { local: boolean; pragmas: boolean }) {
  if (opts.local) await checkLocalFile(client);
  const columns = await client.execute("SELECT name FROM pragma_table_info('idempotency_records')");
  if (columns.rows.length === 0) {
    throw new Error(
      'trpc-idempotency: this database has no idempotency_records table: call migrateSqliteIdempotencyStore(db), or include idempotencyRecords in your own migrations, before using the store',
    );
  }
  // WAL is a property of the file, so one statement sets it for every connection of the pool.
  if (opts.local && opts.pragmas) {
    const mode = await client.execute('PRAGMA journal_mode');
    if (mode.rows[0]?.[0] !== 'wal') await client.execute('PRAGMA journal_mode = WAL');
  }
}

/** A Drizzle query as a libSQL statement of its placeholder values. */
function libsqlStatement(query: Query): (values: Record<string, unknown>) => InStatement {
  return (values) => ({
    sql: query.sql,
    args: fillPlaceholders(query.params, values) as InArgs,
  });
}

/**
 * The `@libsql/client` transaction under a Drizzle libSQL transaction, for a
 * batch on it (Drizzle's `tx.batch` runs outside the transaction). Drizzle
 * keeps it as its session's `tx`; {@link checkDrizzleSession} refuses a
 * Drizzle that does not, when the store is created.
 */
function libsqlTransactionOf(tx: unknown): Transaction {
  return (tx as { session: { tx: Transaction } }).session.tx;
}

function checkDrizzleSession(db: LibsqlDb) {
  const session = (db as unknown as { session?: object }).session;
  if (!session || !Object.hasOwn(session, 'tx')) {
    throw new TypeError(
      'sqliteIdempotencyStore: this drizzle-orm version keeps its libSQL session otherwise than the store knows (drizzle-orm >=0.44 <1)',
    );
  }
}

/** The queue of one client's writes in this process, shared by every store on it. */
const writeTurns = new WeakMap<Client, <T>(op: () => Promise<T>) => Promise<T>>();

function writeTurnsOf(client: Client) {
  let turns = writeTurns.get(client);
  if (!turns) {
    let last: Promise<unknown> = Promise.resolve();
    turns = <T>(op: () => Promise<T>) => {
      const mine = last.then(op, op);
      last = mine.catch(() => {});
      return mine;
    };
    writeTurns.set(client, turns);
  }
  return turns;
}

/** The libSQL error along Drizzle's cause chain, if any. */
function libsqlError(error: unknown): { code?: unknown; statementIndex?: unknown } | undefined {
  for (let at = error, depth = 0; at && depth < 5; depth++) {
    if (typeof at === 'object' && typeof (at as { code?: unknown }).code === 'string') {
      return at as { code?: unknown; statementIndex?: unknown };
    }
    at = (at as { cause?: unknown }).cause;
  }
  return undefined;
}

function isConstraint(error: unknown) {
  const code = libsqlError(error)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_CONSTRAINT');
}

function failedStatement(error: unknown) {
  const index = libsqlError(error)?.statementIndex;
  return typeof index === 'number' ? index : undefined;
}
