import { and, fillPlaceholders, type Query, type SQL, sql } from 'drizzle-orm';
import type { MySql2Database } from 'drizzle-orm/mysql2';
import { format, type ResultSetHeader } from 'mysql2';
import { endedByStore } from '../drizzle/ownCommit';
import {
  completedRecordValues,
  completionValues,
  type IdempotencyRecordRow,
  recordFromRow,
  stepsColumn,
} from '../drizzle/recordRow';
import { recordStatementParts } from '../drizzle/recordStatements';
import {
  claimOrFind,
  insertCompletedOrFind,
  positiveInteger,
  purgeInBatches,
} from '../drizzle/storeOperations';
import { isReplaceable } from '../store/lifecycle';
import type { RecordId, StoredOutcome } from '../store/record';
import type { CommitOptions, CommitResult, IdempotencyStore } from '../store/store';
import {
  type AnyMysql2Pool,
  driverError,
  ER_DUP_ENTRY,
  ER_LOCK_DEADLOCK,
  ER_LOCK_WAIT_TIMEOUT,
  matchedRows,
  poolConfig,
  transactionConnection,
} from './connection';
import { idempotencyRecords as t } from './schema';

// biome-ignore lint/suspicious/noExplicitAny: any schema the user's database has
type AnyMysqlDatabase = MySql2Database<any> & { $client: AnyMysql2Pool };

/** The transaction handle of a Drizzle mysql2 database. */
export type inferMysqlTransaction<TDb extends AnyMysqlDatabase> = Parameters<
  Parameters<TDb['transaction']>[0]
>[0];

/**
 * Options of {@link mysqlIdempotencyStore}.
 * @see README.md#mysql
 */
export interface MysqlIdempotencyStoreOptions<TDb extends AnyMysqlDatabase> {
  /** Your Drizzle database on a mysql2 `Pool`. */
  db: TDb;
  /**
   * Transactional mode: the longest a first execution's commit waits for a
   * concurrent execution of the same key to commit or roll back, in ms,
   * rounded up to whole seconds (`innodb_lock_wait_timeout`'s unit; also
   * never longer than the request's `inFlight.timeoutMs` left, and 1 s at
   * least). After it, the request answers `CONFLICT` (in progress). Default
   * 2000. The store sets it on the pool connections its transactions use.
   */
  lockTimeoutMs?: number;
  /** Records deleted per purge batch. Default 1000. */
  purgeBatchSize?: number;
}

/** The MySQL store: an {@link IdempotencyStore} with asynchronous transactions. */
export interface MysqlIdempotencyStore<TTx> extends IdempotencyStore<TTx> {
  readonly transactionKind: 'async';
}

/** The longest scope and key the table's primary key holds (`mysql/schema.ts`). */
const MAX_SCOPE_CHARACTERS = 200;
const MAX_KEY_CHARACTERS = 255;

/** Why a transaction rolled back at its end: the key was held by a live record. */
const KEY_TAKEN = Symbol('key taken');

/**
 * An idempotency store in MySQL 8.0+ or MariaDB 10.11+ through Drizzle
 * mysql2, for several server processes or machines. It uses only SQL both
 * accept: no `RETURNING`, `SKIP LOCKED` in locking reads only, no
 * `IF NOT EXISTS` outside `CREATE TABLE`. Lookups and fenced writes are by primary key; purge
 * walks the expiry index in batches.
 *
 * A transactional first execution is one transaction: the handler's writes,
 * then the completed record's insert, then `COMMIT` (sent with the insert in
 * one query when the pool allows several statements per query). A concurrent
 * duplicate's insert blocks on the primary key until the first commits (the
 * duplicate's writes roll back and it replays) or rolls back (it commits),
 * bounded by `lockTimeoutMs`.
 * @see README.md#mysql
 */
export function mysqlIdempotencyStore<TDb extends AnyMysqlDatabase>(
  opts: MysqlIdempotencyStoreOptions<TDb>,
): MysqlIdempotencyStore<inferMysqlTransaction<TDb>> {
  type TTx = inferMysqlTransaction<TDb>;
  const { db } = opts;
  const { multipleStatements } = poolConfig('mysqlIdempotencyStore', db.$client);
  const lockTimeoutMs = positiveInteger(
    'mysqlIdempotencyStore',
    'lockTimeoutMs',
    opts.lockTimeoutMs ?? 2000,
  );
  const purgeBatchSize = positiveInteger(
    'mysqlIdempotencyStore',
    'purgeBatchSize',
    opts.purgeBatchSize ?? 1000,
  );
  const {
    p,
    gone,
    responseExpired,
    dropResponseSet,
    byId,
    ownedInProgress,
    liveById,
    replaceableBy,
    claimValues,
    completedValues,
    completeSet,
    renewSet,
    stepsSet,
  } = recordStatementParts(t);
  // MySQL has no `excluded` row: a replacement is an UPDATE of the row the
  // insert found, conditional on it being replaceable by this request.
  const replaceableHere = and(
    byId,
    replaceableBy({ path: p('path'), fingerprint: p('fingerprint') }),
  )!;
  const now = p('now');
  // MySQL assigns a SET list left to right, each seeing the ones before, in
  // the table's column order (Drizzle writes them so): `attempt` decides
  // first, while `expires_at_ms` is still the old row's, and the columns
  // after it read the decision from it (1: a fresh record; a take-over is 2+).
  const freshAfterAttempt = (fresh: SQL, kept: SQL) =>
    sql`CASE WHEN ${t.attempt} = 1 THEN ${fresh} ELSE ${kept} END`;
  const claimReplaceSet = {
    path: sql`${p('path')}`,
    fingerprint: sql`${p('fingerprint')}`,
    state: 'in_progress' as const,
    owner: sql`${p('owner')}`,
    attempt: sql`CASE WHEN ${gone} THEN 1 ELSE ${t.attempt} + 1 END`,
    leaseExpiresAtMs: sql`${p('leaseExpiresAt')}`,
    expiresAtMs: sql`${p('expiresAt')}`,
    createdAtMs: freshAfterAttempt(sql`${now}`, sql`${t.createdAtMs}`),
    completedAtMs: null,
    outcomeKind: null,
    response: null,
    steps: freshAfterAttempt(sql`NULL`, sql`${t.steps}`),
    responseExpiresAtMs: null,
    traceContext: null,
  };
  // A fresh completed record (attempt 1) over whatever it replaces: nothing ran before in this mode.
  const completedReplaceSet = {
    path: sql`${p('path')}`,
    fingerprint: sql`${p('fingerprint')}`,
    state: 'completed' as const,
    owner: sql`${p('owner')}`,
    attempt: 1,
    leaseExpiresAtMs: sql`${now}`,
    expiresAtMs: sql`${p('expiresAt')}`,
    createdAtMs: sql`${now}`,
    completedAtMs: sql`${now}`,
    outcomeKind: sql`${p('outcomeKind')}`,
    response: sql`${p('response')}`,
    steps: null,
    responseExpiresAtMs: sql`${p('responseExpiresAt')}`,
    traceContext: sql`${p('traceContext')}`,
  };

  const findStatement = db.select().from(t).where(liveById).prepare();
  const claimInsert = db.insert(t).values(claimValues).prepare();
  const claimReplace = db.update(t).set(claimReplaceSet).where(replaceableHere).prepare();
  const completedInsert = db.insert(t).values(completedValues).prepare();
  const completedReplace = db.update(t).set(completedReplaceSet).where(replaceableHere).prepare();
  const completeStatement = db.update(t).set(completeSet).where(ownedInProgress).prepare();
  const releaseStatement = db.delete(t).where(ownedInProgress).prepare();
  const renewStatement = db.update(t).set(renewSet).where(ownedInProgress).prepare();
  const saveStepsStatement = db.update(t).set(stepsSet).where(ownedInProgress).prepare();
  // Purge, a batch per transaction: lock up to `limit` expired rows along
  // the expiry index, skipping rows other transactions hold (a request
  // replacing that record right now: waiting for it could deadlock with its
  // shared lock), then delete (or drop the responses of) exactly those rows,
  // still matching. `SKIP LOCKED` in a locking read: MySQL 8.0, MariaDB 10.6.
  const purgeBatch = async (
    phase: 'delete' | 'dropResponses',
    opts: { now: number; limit: number },
  ): Promise<number> => {
    const condition = phase === 'delete' ? gone : responseExpired;
    const order = phase === 'delete' ? t.expiresAtMs : t.responseExpiresAtMs;
    return db.transaction(async (tx) => {
      const rows = await tx
        .select({ scope: t.scope, key: t.key })
        .from(t)
        .where(condition)
        .orderBy(order)
        .limit(p('limit'))
        .for('update', { skipLocked: true })
        .prepare()
        .execute(opts);
      if (rows.length === 0) return 0;
      const locked = and(
        condition,
        sql`(${t.scope}, ${t.key}) IN (${sql.join(
          rows.map((row) => sql`(${row.scope}, ${row.key})`),
          sql`, `,
        )})`,
      );
      const statement =
        phase === 'delete'
          ? tx.delete(t).where(locked)
          : tx.update(t).set(dropResponseSet).where(locked);
      return header(await statement.prepare().execute(opts)).affectedRows;
    });
  };
  // Inside a transaction, the record's statements run as literal SQL text on
  // the transaction's connection; with several statements per query, the
  // insert travels with COMMIT.
  const insertLiteral = inlinable(db.insert(t).values(completedValues).toSQL());
  // A shared lock, as the failed insert's duplicate check took: concurrent
  // duplicates that all hold it do not deadlock, as exclusive locks would.
  const replaceableLiteral = inlinable(
    db.select({ replaceable: sql`1` }).from(t).where(replaceableHere).toSQL(),
  );
  const replaceLiteral = inlinable(
    db.update(t).set(completedReplaceSet).where(replaceableHere).toSQL(),
  );
  /**
   * The record's insert failed on the key: replace the record holding it if
   * this request may (expired, or a lapsed lease of the same input), else
   * give way to it (the transaction rolls back).
   */
  const replaceOrGiveWay = async (
    tx: { execute(query: SQL): Promise<unknown> },
    values: Record<string, unknown>,
  ) => {
    const [rows] = (await tx.execute(
      sql.raw(`${replaceableLiteral(values)} LOCK IN SHARE MODE`),
    )) as unknown as [unknown[]];
    if (rows.length === 0) throw KEY_TAKEN;
    const [replaced] = (await tx.execute(sql.raw(replaceLiteral(values)))) as unknown as [
      ResultSetHeader,
    ];
    if (matchedRows(replaced) !== 1) throw KEY_TAKEN;
  };

  // innodb_lock_wait_timeout is a session setting (MySQL has none per transaction):
  // the value this store last set on each pooled connection, so it is sent only when it changes.
  const lockWaitSet = new WeakMap<object, number>();

  const find = async (id: RecordId & { now: number }) => {
    checkId(id);
    const [row] = (await findStatement.execute({ ...id })) as IdempotencyRecordRow[];
    return row ? recordFromRow(row) : undefined;
  };
  const header = (result: unknown) => (result as [ResultSetHeader])[0];
  const updated = async (
    statement: { execute(values: Record<string, unknown>): Promise<unknown> },
    values: Record<string, unknown>,
  ) => matchedRows(header(await statement.execute(values))) === 1;
  /** Inserts the row, or replaces a replaceable one; false if a live record holds the key. */
  const insertOrReplace = (
    insert: { execute(values: Record<string, unknown>): Promise<unknown> },
    replace: { execute(values: Record<string, unknown>): Promise<unknown> },
    values: Record<string, unknown>,
  ) =>
    againOnDeadlock(async () => {
      try {
        await insert.execute(values);
        return true;
      } catch (error) {
        if (!driverError(error, ER_DUP_ENTRY)) throw error;
      }
      return updated(replace, values);
    });
  /** After the key turned out taken: the record that holds it, or busy if it vanished again. */
  const holder = async (opts: CommitOptions): Promise<CommitResult<never>> => {
    const record = await find(opts);
    return record ? { status: 'found', record } : { status: 'busy' };
  };

  return {
    transactionKind: 'async',
    find,
    commit<R>(
      commit: CommitOptions,
      write: (tx: TTx) => R,
      encode: (result: Awaited<R>) => StoredOutcome,
    ): Promise<CommitResult<Awaited<R>>> {
      const invalid = idError(commit);
      if (invalid) return Promise.reject(invalid);
      // Whole seconds, never longer than the request may wait, and 1 at least (MySQL's minimum).
      const waitS = Math.max(
        1,
        Math.min(Math.ceil(lockTimeoutMs / 1000), Math.floor(commit.maxWaitMs / 1000)),
      );
      let finishing = false;
      let fusedCommit = false;
      return new Promise((resolve, reject) => {
        db.transaction(async (tx) => {
          const result = (await write(tx as TTx)) as Awaited<R>;
          const outcome = encode(result);
          const values = completedRecordValues(commit, outcome);
          finishing = true;
          const connection = transactionConnection(tx);
          const setLockWait =
            connection && lockWaitSet.get(connection) === waitS
              ? ''
              : `SET SESSION innodb_lock_wait_timeout = ${waitS}`;
          if (connection) lockWaitSet.delete(connection);
          if (multipleStatements) {
            try {
              await tx.execute(
                sql.raw([setLockWait, insertLiteral(values), 'COMMIT'].filter(Boolean).join('; ')),
              );
              if (connection) lockWaitSet.set(connection, waitS);
              fusedCommit = true;
              // Drizzle's own COMMIT would follow, with nothing left to commit.
              endedByStore(tx);
              resolve({ status: 'committed', result, outcome });
              return;
            } catch (error) {
              if (!driverError(error, ER_DUP_ENTRY)) throw error;
              // The insert failed, so neither COMMIT ran: replace a replaceable record, or give way.
              if (connection) lockWaitSet.set(connection, waitS);
              await replaceOrGiveWay(tx, values);
            }
          } else {
            if (setLockWait) await tx.execute(sql.raw(setLockWait));
            if (connection) lockWaitSet.set(connection, waitS);
            try {
              await tx.execute(sql.raw(insertLiteral(values)));
            } catch (error) {
              if (!driverError(error, ER_DUP_ENTRY)) throw error;
              await replaceOrGiveWay(tx, values);
            }
          }
          return { status: 'committed' as const, result, outcome };
        }).then(
          (committed) => {
            if (committed) resolve(committed);
          },
          (error: unknown) => {
            // Committed already: only what Drizzle did after it failed; nothing is lost.
            if (fusedCommit) return;
            answerFailure(error).then(resolve, reject);
          },
        );
        const answerFailure = async (error: unknown): Promise<CommitResult<Awaited<R>>> => {
          if (error === KEY_TAKEN) return holder(commit);
          if (
            finishing &&
            (driverError(error, ER_LOCK_WAIT_TIMEOUT) || driverError(error, ER_LOCK_DEADLOCK))
          ) {
            return { status: 'busy' };
          }
          // The handler's own insert failed on a unique key because a concurrent
          // execution of this key committed first (its writes hold the same
          // unique values): that execution's outcome is the answer.
          if (!finishing && driverError(error, ER_DUP_ENTRY)) {
            const record = await find(commit);
            if (record && !isReplaceable(record, commit)) return { status: 'found', record };
          }
          throw error;
        };
      });
    },
    insertCompleted: async (opts) => {
      checkId(opts);
      return insertCompletedOrFind(
        opts.outcome,
        () =>
          insertOrReplace(
            completedInsert,
            completedReplace,
            completedRecordValues(opts, opts.outcome),
          ),
        () => find(opts),
      );
    },
    claim(claim) {
      checkId(claim);
      return claimOrFind(
        async () => {
          if (!(await insertOrReplace(claimInsert, claimReplace, { ...claim }))) return undefined;
          // No RETURNING in MySQL: read the row back. Owners are unique per
          // execution, so it is this claim's unless it already lost it.
          const record = await find(claim);
          return record?.owner === claim.owner && record.state === 'in_progress'
            ? record
            : undefined;
        },
        () => find(claim),
      );
    },
    renewLease: (renew) => updated(renewStatement, { ...renew }),
    saveSteps: (save) =>
      updated(saveStepsStatement, {
        scope: save.scope,
        key: save.key,
        owner: save.owner,
        steps: stepsColumn(save.steps),
      }),
    complete: (complete) => updated(completeStatement, completionValues(complete)),
    release: async (fenced) =>
      header(await releaseStatement.execute({ ...fenced })).affectedRows === 1,
    purge: (purge) => {
      // A batch that lost a deadlock to a request's transaction changed nothing: again.
      const batch = (phase: 'delete' | 'dropResponses') => (limit: number) =>
        againOnDeadlock(() => purgeBatch(phase, { now: purge.now, limit }));
      return purgeInBatches(purge, purgeBatchSize, batch('delete'), batch('dropResponses'));
    },
  };
}

/**
 * Runs the store's own autocommit statements again when InnoDB picks one as
 * a deadlock's victim: a victim's statement changed nothing, and MySQL's
 * advice is to try again. Concurrent inserts of one key deadlock now and then
 * (their duplicate-key checks take shared locks that the insert or replace
 * of another then waits behind). Never for a statement inside a transaction:
 * there the deadlock rolled the whole transaction back.
 */
async function againOnDeadlock<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (attempt === DEADLOCK_ATTEMPTS || !driverError(error, ER_LOCK_DEADLOCK)) throw error;
    }
  }
}
const DEADLOCK_ATTEMPTS = 5;

/**
 * A key or scope longer than the primary key's columns: an error, never a
 * truncation that would make two keys one (a server without strict mode
 * truncates silently).
 */
function checkId(id: RecordId) {
  const invalid = idError(id);
  if (invalid) throw invalid;
}

function idError(id: RecordId): RangeError | undefined {
  if (id.key.length > MAX_KEY_CHARACTERS) {
    return new RangeError(
      `mysqlIdempotencyStore: idempotency keys are at most ${MAX_KEY_CHARACTERS} characters in MySQL, got ${id.key.length} (keyFormat.maxLength)`,
    );
  }
  if (id.scope.length > MAX_SCOPE_CHARACTERS) {
    return new RangeError(
      `mysqlIdempotencyStore: a stored scope is at most ${MAX_SCOPE_CHARACTERS} characters (longer scopes are stored hashed by the executor), got ${id.scope.length}`,
    );
  }
  return undefined;
}

/**
 * A statement Drizzle built, turned into a function of its placeholder values
 * that returns SQL text with every parameter written as a literal, escaped
 * by mysql2 exactly as it escapes the parameters of any Drizzle query.
 */
function inlinable(query: Query): (values: Record<string, unknown>) => string {
  return (values) => format(query.sql, fillPlaceholders(query.params, values) as never);
}
