import type Database from 'better-sqlite3';
import { and, sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import {
  completedRecordValues,
  completionValues,
  type IdempotencyRecordRow,
  recordFromRow,
  stepsColumn,
} from '../drizzle/recordRow';
import { recordStatementParts } from '../drizzle/recordStatements';
import { insertCompletedOrFind, positiveInteger, purgeInBatches } from '../drizzle/storeOperations';
import { isReplaceable } from '../store/lifecycle';
import type { IdempotencyRecord, StoredOutcome } from '../store/record';
import type {
  CommitOptions,
  CommitResult,
  IdempotencyStore,
  InsertCompletedOptions,
} from '../store/store';
import { idempotencyRecords as t } from './schema';

// biome-ignore lint/suspicious/noExplicitAny: any schema the user's database has
type AnySqliteDatabase = BetterSQLite3Database<any> & { $client: Database.Database };

/** The transaction handle of a Drizzle better-sqlite3 database. */
export type inferSqliteTransaction<TDb extends AnySqliteDatabase> = Parameters<
  Parameters<TDb['transaction']>[0]
>[0];

/**
 * Options of {@link sqliteIdempotencyStore}.
 * @see README.md#sqlite
 */
export interface SqliteIdempotencyStoreOptions<TDb extends AnySqliteDatabase> {
  /** Your Drizzle database (better-sqlite3). The store shares its connection. */
  db: TDb;
  /**
   * Apply WAL journaling, a busy timeout and `synchronous = NORMAL` to the
   * connection. Default true; pass false if you manage pragmas yourself.
   */
  pragmas?: boolean;
  /** How long a statement waits for another process's write lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Records deleted per purge batch. Default 1000. */
  purgeBatchSize?: number;
}

/** The SQLite store: an {@link IdempotencyStore} whose transactions are synchronous. */
export interface SqliteIdempotencyStore<TTx> extends IdempotencyStore<TTx> {
  readonly transactionKind: 'sync';
}

/**
 * An idempotency store in SQLite, on the user's own Drizzle better-sqlite3
 * database. Every statement is prepared once.
 *
 * A transactional first execution is one synchronous `BEGIN IMMEDIATE`
 * transaction that looks the key up, runs the handler's writes and inserts
 * the completed record: no other request's statement can run inside it,
 * nothing uncommitted is ever visible, and no lock is held across an `await`.
 * @see README.md#sqlite
 */
export function sqliteIdempotencyStore<TDb extends AnySqliteDatabase>(
  opts: SqliteIdempotencyStoreOptions<TDb>,
): SqliteIdempotencyStore<inferSqliteTransaction<TDb>> {
  const { db } = opts;
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

  const findStatement = db.select().from(t).where(liveById).prepare();
  // Insert, or replace a replaceable record; anything else is left alone and returns no row.
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
  // By primary key, not rowid: a table made by earlier versions is WITHOUT
  // ROWID, and has none. SQLite runs the statement under one write
  // lock, so nothing can claim a record between the choice and the delete.
  const purgeStatement = db
    .delete(t)
    .where(
      and(
        gone,
        sql`(${t.scope}, ${t.key}) IN (SELECT ${t.scope}, ${t.key} FROM ${t} WHERE ${gone} LIMIT ${p('limit')})`,
      ),
    )
    .prepare();
  const dropResponsesStatement = db
    .update(t)
    .set(dropResponseSet)
    .where(
      and(
        responseExpired,
        sql`(${t.scope}, ${t.key}) IN (SELECT ${t.scope}, ${t.key} FROM ${t} WHERE ${responseExpired} LIMIT ${p('limit')})`,
      ),
    )
    .prepare();

  const find = (id: { scope: string; key: string; now: number }): IdempotencyRecord | undefined => {
    const row = findStatement.get(id) as IdempotencyRecordRow | undefined;
    return row ? recordFromRow(row) : undefined;
  };
  /** The live record holding the key against this request, if one does. */
  const holder = (opts: CommitOptions) => {
    const record = find(opts);
    return record && !isReplaceable(record, opts) ? record : undefined;
  };
  const insertCompleted = (opts: CommitOptions, outcome: StoredOutcome) => {
    const { changes } = insertCompletedStatement.run(completedRecordValues(opts, outcome));
    return changes === 1;
  };

  return {
    transactionKind: 'sync',
    async find(id) {
      return find(id);
    },
    async commit<R>(
      commit: CommitOptions,
      write: (tx: inferSqliteTransaction<TDb>) => R,
      encode: (result: Awaited<R>) => StoredOutcome,
    ): Promise<CommitResult<Awaited<R>>> {
      // BEGIN IMMEDIATE takes the write lock first, so the lookup and the insert
      // see the same database: a key completed by another process before this
      // point is found, after it cannot be.
      return db.transaction(
        (tx): CommitResult<Awaited<R>> => {
          const record = holder(commit);
          if (record) return { status: 'found', record };
          // Synchronous by contract (`transactionKind: 'sync'`): a thenable here is a
          // misuse that `encode` refuses, rolling the transaction back.
          const result = write(tx as inferSqliteTransaction<TDb>) as Awaited<R>;
          const outcome = encode(result);
          if (!insertCompleted(commit, outcome)) {
            throw new Error('idempotency record changed inside an immediate transaction');
          }
          return { status: 'committed', result, outcome };
        },
        { behavior: 'immediate' },
      );
    },
    insertCompleted: async (opts: InsertCompletedOptions) =>
      insertCompletedOrFind(
        opts.outcome,
        () => insertCompleted(opts, opts.outcome),
        () => find(opts),
      ),
    async claim(claim) {
      for (let round = 0; round < 2; round++) {
        const row = claimStatement.get({ ...claim }) as IdempotencyRecordRow | undefined;
        if (row) {
          return { acquired: true, record: recordFromRow(row), takenOver: row.attempt > 1 };
        }
        const record = find(claim);
        if (record) return { acquired: false, record };
        // Gone between the two statements (released, or expired this very millisecond): claim again.
      }
      throw new Error('idempotency record vanished twice during one claim');
    },
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
