import { getTableColumns } from 'drizzle-orm';
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
import { isReplaceable } from '../../store/lifecycle';
import type { IdempotencyRecord, StoredOutcome } from '../../store/record';
import type {
  CommitOptions,
  CommitResult,
  IdempotencyStore,
  InsertCompletedOptions,
} from '../../store/store';
import type { BetterSqlite3Db } from '../driver';
import { ADD_COLUMN, SQLITE_MIGRATIONS_TABLE, shippedSqliteMigrations } from '../migrations';
import { purgeWalks } from '../purgeWalks';
import { idempotencyRecords as t } from '../schema';
import type { SqliteIdempotencyStoreOptions } from '../store';
import { rawStatement, rowReader } from './rawStatement';

/**
 * The SQLite store on better-sqlite3, whose transactions are synchronous.
 * Every statement is prepared once.
 *
 * A transactional first execution is one synchronous `BEGIN IMMEDIATE`
 * transaction that looks the key up, runs the handler's writes and inserts
 * the completed record: no other request's statement can run inside it,
 * nothing uncommitted is ever visible, and no lock is held across an `await`.
 */
export function betterSqlite3Store<TTx>(
  db: BetterSqlite3Db,
  opts: Omit<SqliteIdempotencyStoreOptions<BetterSqlite3Db>, 'db'>,
): IdempotencyStore<TTx> & { transactionKind: 'sync' } {
  const purgeBatchSize = positiveInteger(
    'sqliteIdempotencyStore',
    'purgeBatchSize',
    opts.purgeBatchSize ?? 1000,
  );
  if (opts.pragmas ?? true) {
    const client = db.$client;
    client.pragma('journal_mode = WAL');
    client.pragma(
      `busy_timeout = ${positiveInteger('sqliteIdempotencyStore', 'busyTimeoutMs', opts.busyTimeoutMs ?? 5000)}`,
    );
    client.pragma('synchronous = NORMAL');
  }
  // The statements below are prepared now, so a missing table would otherwise be a bare SQLite error.
  const columns = db.$client
    .prepare("SELECT name FROM pragma_table_info('idempotency_records')")
    .all();
  if (columns.length === 0) {
    throw new Error(
      'trpc-idempotency: this database has no idempotency_records table: call migrateSqliteIdempotencyStore(db), or include idempotencyRecords in your own migrations, before creating the store',
    );
  }
  const {
    p,
    gone,
    responseExpired,
    dropResponseSet,
    ownedInProgress,
    liveById,
    replaceable,
    claimValues,
    claimSet,
    completedValues,
    completedSet,
    completeSet,
    renewSet,
    stepsSet,
  } = recordStatementParts(t);

  // The two statements of every first execution and replay run raw (`rawStatement.ts`).
  const findStatement = rawStatement<{ scope: string; key: string; now: number }>(
    db.$client,
    db.select().from(t).where(liveById).toSQL(),
  );
  findStatement.statement.raw(true);
  const rowOf = rowReader<IdempotencyRecordRow>(Object.keys(getTableColumns(t)));
  // Insert, or replace a replaceable record; anything else is left alone and returns no row.
  const claimStatement = db
    .insert(t)
    .values(claimValues)
    .onConflictDoUpdate({ target: [t.scope, t.key], set: claimSet, setWhere: replaceable })
    .returning()
    .prepare();
  const insertCompletedStatement = rawStatement<ReturnType<typeof completedRecordValues>>(
    db.$client,
    db
      .insert(t)
      .values(completedValues)
      .onConflictDoUpdate({ target: [t.scope, t.key], set: completedSet, setWhere: replaceable })
      .toSQL(),
  );
  const completeStatement = db.update(t).set(completeSet).where(ownedInProgress).prepare();
  const releaseStatement = db.delete(t).where(ownedInProgress).prepare();
  const renewStatement = db.update(t).set(renewSet).where(ownedInProgress).prepare();
  const saveStepsStatement = db.update(t).set(stepsSet).where(ownedInProgress).prepare();
  const walks = purgeWalks(db, { p, gone, responseExpired, dropResponseSet });
  const purgeStatement = walks.deleteGone.prepare();
  const dropResponsesStatement = walks.dropResponses.prepare();

  const find = (id: { scope: string; key: string; now: number }): IdempotencyRecord | undefined => {
    const values = findStatement.statement.get(findStatement.bind(id)) as unknown[] | undefined;
    return values ? recordFromRow(rowOf(values)) : undefined;
  };
  const insertCompleted = (opts: CommitOptions, outcome: StoredOutcome) => {
    const { changes } = insertCompletedStatement.statement.run(
      insertCompletedStatement.bind(completedRecordValues(opts, outcome)),
    );
    return changes === 1;
  };

  // The Drizzle handle a commit's write gets. better-sqlite3 runs one
  // synchronous transaction at a time on its connection, and a Drizzle
  // transaction object holds only the session and the schema, the same for
  // every transaction: one made now serves every commit, where
  // `db.transaction()` builds one (and better-sqlite3 its wrapper functions) per call.
  const tx = db.transaction((handle) => handle) as unknown as TTx;
  // One `BEGIN IMMEDIATE` transaction (SPEC 5.2): the write lock is taken
  // first, so the re-check and the insert see the same database: a key
  // completed by another process before this point is found, and the write
  // does not run; after it, it cannot be.
  const commitTransaction = db.$client.transaction(
    (
      commit: CommitOptions,
      write: (tx: TTx) => unknown,
      encode: (result: never) => StoredOutcome,
    ): CommitResult<unknown> => {
      const record = find(commit);
      if (record && !isReplaceable(record, commit)) return { status: 'found', record };
      // Synchronous by contract (`transactionKind: 'sync'`): a thenable here is a
      // misuse that `encode` refuses, rolling the transaction back.
      const result = write(tx);
      const outcome = encode(result as never);
      if (!insertCompleted(commit, outcome)) {
        throw new Error('idempotency record changed inside an immediate transaction');
      }
      return { status: 'committed', result, outcome };
    },
  ).immediate;

  return {
    transactionKind: 'sync',
    async find(id) {
      return find(id);
    },
    async commit<R>(
      commit: CommitOptions,
      write: (tx: TTx) => R,
      encode: (result: Awaited<R>) => StoredOutcome,
    ): Promise<CommitResult<Awaited<R>>> {
      return commitTransaction(commit, write, encode) as CommitResult<Awaited<R>>;
    },
    insertCompleted: async (opts: InsertCompletedOptions) =>
      insertCompletedOrFind(
        opts.outcome,
        () => insertCompleted(opts, opts.outcome),
        () => find(opts),
      ),
    claim: (claim) =>
      claimOrFind(
        () => {
          const row = claimStatement.get({ ...claim }) as IdempotencyRecordRow | undefined;
          return row && recordFromRow(row);
        },
        () => find(claim),
      ),
    async renewLease(renew) {
      return renewStatement.run({ ...renew }).changes === 1;
    },
    async saveSteps(save) {
      return (
        saveStepsStatement.run({
          scope: save.scope,
          key: save.key,
          owner: save.owner,
          steps: stepsColumn(save.steps),
        }).changes === 1
      );
    },
    async complete(complete) {
      return completeStatement.run(completionValues(complete)).changes === 1;
    },
    async release(fenced) {
      return releaseStatement.run({ ...fenced }).changes === 1;
    },
    purge: async (purge) =>
      purgeInBatches(
        purge,
        purgeBatchSize,
        (limit) => purgeStatement.run({ now: purge.now, limit }).changes,
        (limit) => dropResponsesStatement.run({ now: purge.now, limit }).changes,
      ),
  };
}

/** `migrateSqliteIdempotencyStore` on better-sqlite3: synchronous, like its transactions. */
export function migrateBetterSqlite3(db: BetterSqlite3Db): undefined {
  const client = db.$client;
  const migrations = shippedSqliteMigrations();
  client.exec(
    `CREATE TABLE IF NOT EXISTS "${SQLITE_MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
  );
  const last = client.prepare<[], { created_at: number }>(
    `SELECT created_at FROM "${SQLITE_MIGRATIONS_TABLE}" ORDER BY created_at DESC LIMIT 1`,
  );
  const recordApplied = client.prepare<[string, number]>(
    `INSERT INTO "${SQLITE_MIGRATIONS_TABLE}" ("hash", "created_at") VALUES (?, ?)`,
  );
  const hasColumn = (table: string, column: string) =>
    client
      .prepare<[string], { name: string }>('SELECT name FROM pragma_table_info(?)')
      .all(table)
      .some((row) => row.name === column);

  // BEGIN IMMEDIATE: the write lock before reading what ran, so a second
  // process starting at the same moment waits, then finds everything applied.
  client
    .transaction(() => {
      const appliedUpTo = Number(last.get()?.created_at ?? 0);
      for (const migration of migrations) {
        if (migration.folderMillis <= appliedUpTo) continue;
        for (const statement of migration.sql) {
          // A column your own drizzle-kit migration already added is not added twice.
          const added = ADD_COLUMN.exec(statement);
          if (added && hasColumn(added[1]!, added[2]!)) continue;
          client.exec(statement);
        }
        recordApplied.run(migration.hash, migration.folderMillis);
      }
    })
    .immediate();
  return undefined;
}
