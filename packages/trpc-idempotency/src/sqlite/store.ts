import type Database from 'better-sqlite3';
import { sql } from 'drizzle-orm';
import type { BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { recordFromRow, type StoredOutcome } from '../server/record';
import { recordStatementParts } from '../server/recordStatements';
import { type CompleteOptions, type IdempotencyStore, LeaseLostError } from '../server/store';
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
 * database. Every statement is prepared once. Transactional commits run as
 * one synchronous `BEGIN IMMEDIATE` transaction, so no other request's
 * statement can run inside it, nothing uncommitted is ever visible, and no
 * lock is held across an `await` (SPEC 5.2).
 * @see README.md#sqlite
 */
export function sqliteIdempotencyStore<TDb extends AnySqliteDatabase>(
  opts: SqliteIdempotencyStoreOptions<TDb>,
): SqliteIdempotencyStore<inferSqliteTransaction<TDb>> {
  const { db } = opts;
  if (opts.pragmas ?? true) {
    const client = db.$client;
    client.pragma('journal_mode = WAL');
    client.pragma(`busy_timeout = ${Math.trunc(opts.busyTimeoutMs ?? 5000)}`);
    client.pragma('synchronous = NORMAL');
  }
  // The statements below are prepared now, so a missing table would otherwise be a bare SQLite error.
  const table = db.$client
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'idempotency_records'")
    .get();
  if (!table) {
    throw new Error(
      'trpc-idempotency: this database has no idempotency_records table: call migrateSqliteIdempotencyStore(db), or include idempotencyRecords in your own migrations, before creating the store',
    );
  }
  const purgeBatchSize = opts.purgeBatchSize ?? 1000;
  const {
    p,
    gone,
    ownedInProgress,
    liveById,
    heldById,
    claimValues,
    claimSet,
    claimReplaces,
    completeSet,
  } = recordStatementParts(t);

  // Insert, or replace a gone record, or take over an expired lease with the
  // same path and input. Anything else is left alone and returns no row.
  const claimStatement = db
    .insert(t)
    .values(claimValues)
    .onConflictDoUpdate({ target: [t.scope, t.key], set: claimSet, setWhere: claimReplaces })
    .returning()
    .prepare();

  const findStatement = db.select().from(t).where(liveById).prepare();
  const heldStatement = db.select().from(t).where(heldById).prepare();

  const completeStatement = db.update(t).set(completeSet).where(ownedInProgress).prepare();

  const releaseStatement = db.delete(t).where(ownedInProgress).prepare();

  const renewStatement = db
    .update(t)
    .set({
      leaseExpiresAtMs: sql`${p('leaseExpiresAt')}`,
      expiresAtMs: sql`max(${t.expiresAtMs}, ${p('leaseExpiresAt')})`,
    })
    .where(ownedInProgress)
    .prepare();

  // An in-progress record whose lease is still live is never purged, even past its expiry.
  // By primary key, not rowid: the shipped table is WITHOUT ROWID (one B-tree
  // walk per lookup instead of two), and a table from the user's own
  // drizzle-kit setup may not be.
  const purgeStatement = db
    .delete(t)
    .where(
      sql`(${t.scope}, ${t.key}) IN (SELECT ${t.scope}, ${t.key} FROM ${t} WHERE ${gone} LIMIT ${p('limit')})`,
    )
    .prepare();

  const completeRow = (opts: {
    scope: string;
    key: string;
    owner: string;
    outcome: StoredOutcome;
    now: number;
    expiresAt: number;
  }) =>
    completeStatement.run({
      scope: opts.scope,
      key: opts.key,
      owner: opts.owner,
      outcomeKind: opts.outcome.kind,
      response: opts.outcome.body,
      now: opts.now,
      expiresAt: opts.expiresAt,
    }).changes === 1;

  const find = (id: { scope: string; key: string; now: number }) => {
    const row = findStatement.get(id);
    return row ? recordFromRow(row) : undefined;
  };
  const held = (id: { scope: string; key: string; now: number }) => {
    const row = heldStatement.get(id);
    return row ? recordFromRow(row) : undefined;
  };

  return {
    transactionKind: 'sync',
    async claim(claim) {
      const row = claimStatement.get({ ...claim });
      if (row) {
        return { acquired: true, record: recordFromRow(row), takenOver: row.attempt > 1 };
      }
      const record = held(claim);
      if (record) return { acquired: false, record };
      // Deleted between the two statements (released or purged): claim again.
      const retried = claimStatement.get({ ...claim });
      if (retried) {
        return { acquired: true, record: recordFromRow(retried), takenOver: retried.attempt > 1 };
      }
      const raced = held(claim);
      if (!raced) throw new Error('idempotency record vanished twice during one claim');
      return { acquired: false, record: raced };
    },
    async find(id) {
      return find(id);
    },
    async renewLease(renew) {
      return renewStatement.run({ ...renew }).changes === 1;
    },
    async complete(complete) {
      return completeRow(complete);
    },
    async release(fenced) {
      return releaseStatement.run({ ...fenced }).changes === 1;
    },
    async commit<R>(
      commit: Omit<CompleteOptions, 'outcome'>,
      write: (tx: inferSqliteTransaction<TDb>) => R,
      encode: (result: Awaited<R>) => StoredOutcome,
    ): Promise<Awaited<R>> {
      return db.transaction(
        (tx): Awaited<R> => {
          // Synchronous by contract (`transactionKind: 'sync'`): a thenable here is a
          // misuse that encode refuses, rolling the transaction back.
          const result = write(tx as inferSqliteTransaction<TDb>) as Awaited<R>;
          const outcome = encode(result);
          // Fencing: completing fails if the lease was lost, and throwing rolls the writes back.
          if (!completeRow({ ...commit, outcome })) throw new LeaseLostError(commit);
          return result;
        },
        { behavior: 'immediate' },
      );
    },
    async purge(purge) {
      const limit = purge.limit ?? Number.POSITIVE_INFINITY;
      let deleted = 0;
      while (deleted < limit) {
        const batch = Math.min(purgeBatchSize, limit - deleted);
        const { changes } = purgeStatement.run({ now: purge.now, limit: batch });
        deleted += changes;
        if (changes < batch) break;
      }
      return deleted;
    },
  };
}
