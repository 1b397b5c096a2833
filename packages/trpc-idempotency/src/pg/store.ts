import { and, getTableName, sql } from 'drizzle-orm';
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
  foundAfterFailedWrite,
  insertCompletedOrFind,
  positiveInteger,
  purgeInBatches,
} from '../drizzle/storeOperations';
import type { StoredOutcome } from '../store/record';
import type { CommitOptions, CommitResult, IdempotencyStore } from '../store/store';
import { type AnyPgDatabase, pgDriverOf, postgresError } from './drivers';
import { idempotencyRecords as t } from './schema';

/** The transaction handle of a Drizzle Postgres database, whatever its driver. */
export type inferPgTransaction<TDb extends AnyPgDatabase> = Parameters<
  Parameters<TDb['transaction']>[0]
>[0];

/**
 * Options of {@link pgIdempotencyStore}.
 * @see README.md#postgres
 */
export interface PgIdempotencyStoreOptions<TDb extends AnyPgDatabase> {
  /**
   * Your Drizzle database: node-postgres on a `pg.Pool`, postgres.js or PGlite
   * (README.md#postgres-drivers).
   */
  db: TDb;
  /**
   * Transactional mode: the longest a first execution's commit waits for a
   * concurrent execution of the same key to commit or roll back, in ms (it
   * also never waits longer than the request's `inFlight.timeoutMs` left).
   * After it, the request answers `CONFLICT` (in progress). Default 2000.
   * PGlite runs one transaction at a time, so there it never waits.
   */
  lockTimeoutMs?: number;
  /** Records deleted per purge batch. Default 1000. */
  purgeBatchSize?: number;
}

/** The Postgres store: an {@link IdempotencyStore} with asynchronous transactions. */
export interface PgIdempotencyStore<TTx> extends IdempotencyStore<TTx> {
  readonly transactionKind: 'async';
}

const UNIQUE_VIOLATION = '23505';
const LOCK_NOT_AVAILABLE = '55P03';
const RECORDS_TABLE = getTableName(t);

/**
 * An idempotency store in Postgres (or a Postgres-compatible engine) on your
 * Drizzle database, for several server processes or machines. The driver is
 * detected: node-postgres (a `pg.Pool`), postgres.js or PGlite; any other is
 * an `UnsupportedDriverError` (README.md#postgres-drivers). Lookups and lease-mode
 * writes are prepared statements by primary key; purge walks the expiry
 * index in batches and skips rows other transactions hold.
 *
 * A transactional first execution is one transaction: the handler's writes,
 * then the completed record's insert, sent with `COMMIT` in one round trip
 * where the driver allows it. A concurrent duplicate's insert blocks on the
 * key's unique index until the first commits (the duplicate's writes roll
 * back and it replays) or rolls back (it commits), bounded by
 * `lockTimeoutMs`. If the transaction fails otherwise (the handler's insert of
 * a unique column waited on a concurrent execution's row, then violated the
 * constraint once that one committed), the key is looked up again after the
 * rollback: a record stored meanwhile is the answer.
 * @see README.md#postgres
 */
export function pgIdempotencyStore<TDb extends AnyPgDatabase>(
  opts: PgIdempotencyStoreOptions<TDb>,
): PgIdempotencyStore<inferPgTransaction<TDb>> {
  type TTx = inferPgTransaction<TDb>;
  const { db } = opts;
  const driver = pgDriverOf(db, { caller: 'pgIdempotencyStore', for: 'store' });
  const lockTimeoutMs = positiveInteger(
    'pgIdempotencyStore',
    'lockTimeoutMs',
    opts.lockTimeoutMs ?? 2000,
  );
  const purgeBatchSize = positiveInteger(
    'pgIdempotencyStore',
    'purgeBatchSize',
    opts.purgeBatchSize ?? 1000,
  );
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

  // Built once; each runs as a named prepared statement, parsed once per pooled connection.
  const findStatement = db.select().from(t).where(liveById).prepare('trpc_idempotency_find');
  const claimStatement = db
    .insert(t)
    .values(claimValues)
    .onConflictDoUpdate({ target: [t.scope, t.key], set: claimSet, setWhere: replaceable })
    .returning()
    .prepare('trpc_idempotency_claim');
  const insertCompletedStatement = db
    .insert(t)
    .values(completedValues)
    .onConflictDoUpdate({ target: [t.scope, t.key], set: completedSet, setWhere: replaceable })
    .prepare('trpc_idempotency_insert_completed');
  const completeStatement = db
    .update(t)
    .set(completeSet)
    .where(ownedInProgress)
    .prepare('trpc_idempotency_complete');
  const releaseStatement = db.delete(t).where(ownedInProgress).prepare('trpc_idempotency_release');
  const renewStatement = db
    .update(t)
    .set(renewSet)
    .where(ownedInProgress)
    .prepare('trpc_idempotency_renew');
  const saveStepsStatement = db
    .update(t)
    .set(stepsSet)
    .where(ownedInProgress)
    .prepare('trpc_idempotency_save_steps');
  // The outer `gone` is re-checked on the row's newest version after waiting on
  // its lock, so a record claimed or completed meanwhile is never deleted; rows
  // other transactions hold are skipped, not waited for.
  const purgeStatement = db
    .delete(t)
    .where(
      and(
        gone,
        sql`(${t.scope}, ${t.key}) IN (SELECT ${t.scope}, ${t.key} FROM ${t} WHERE ${gone} LIMIT ${p('limit')} FOR UPDATE SKIP LOCKED)`,
      ),
    )
    .prepare('trpc_idempotency_purge');
  // The same for tombstones to be: the response dropped, the record kept.
  const dropResponsesStatement = db
    .update(t)
    .set(dropResponseSet)
    .where(
      and(
        responseExpired,
        sql`(${t.scope}, ${t.key}) IN (SELECT ${t.scope}, ${t.key} FROM ${t} WHERE ${responseExpired} LIMIT ${p('limit')} FOR UPDATE SKIP LOCKED)`,
      ),
    )
    .prepare('trpc_idempotency_drop_responses');

  const recordCommit = driver.recordCommit({
    deleteReplaceable: db
      .delete(t)
      .where(and(byId, replaceableBy({ path: p('path'), fingerprint: p('fingerprint') })))
      .toSQL(),
    insertCompleted: db.insert(t).values(completedValues).toSQL(),
  });

  const find = async (id: { scope: string; key: string; now: number }) => {
    const [row] = (await findStatement.execute(id)) as IdempotencyRecordRow[];
    return row ? recordFromRow(row) : undefined;
  };
  const changed = async (
    statement: { execute(values: Record<string, unknown>): Promise<unknown> },
    values: Record<string, unknown>,
  ) => driver.changedRows(await statement.execute(values)) === 1;
  /** After the key turned out taken: the record that holds it, or busy if it vanished again. */
  const holder = async (opts: CommitOptions): Promise<CommitResult<never>> => {
    const record = await find(opts);
    return record ? { status: 'found', record } : { status: 'busy' };
  };

  return {
    transactionKind: 'async',
    find,
    async commit<R>(
      commit: CommitOptions,
      write: (tx: TTx) => R,
      encode: (result: Awaited<R>) => StoredOutcome,
    ): Promise<CommitResult<Awaited<R>>> {
      // Never wait longer than the request may: 0 would mean no limit in Postgres, so 1 ms at least.
      const waitMs = Math.max(1, Math.min(lockTimeoutMs, Math.ceil(commit.maxWaitMs)));
      let outcome: StoredOutcome | undefined;
      try {
        const result = await recordCommit(
          db,
          async (tx) => {
            const result = await write(tx as TTx);
            outcome = encode(result as Awaited<R>);
            return { result: result as Awaited<R>, record: completedRecordValues(commit, outcome) };
          },
          { waitMs },
        );
        return { status: 'committed', result, outcome: outcome! };
      } catch (error) {
        const failure = postgresError(error);
        const finishing = outcome !== undefined;
        // The records table's unique key only: a deferred constraint of the
        // handler's own tables also fails at COMMIT, and is the handler's error.
        if (finishing && failure?.code === UNIQUE_VIOLATION && failure.table === RECORDS_TABLE) {
          return holder(commit);
        }
        if (finishing && failure?.code === LOCK_NOT_AVAILABLE) return { status: 'busy' };
        // Rolled back for another reason, maybe because of a concurrent execution of
        // this key (the handler's insert of a unique column waited on its row): its record.
        const found = await foundAfterFailedWrite(() => find(commit));
        if (found) return found;
        throw error;
      }
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
          const [row] = (await claimStatement.execute({ ...claim })) as IdempotencyRecordRow[];
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
    purge: (purge) => {
      const batch =
        (statement: typeof purgeStatement | typeof dropResponsesStatement) =>
        async (limit: number) =>
          driver.changedRows(await statement.execute({ now: purge.now, limit }));
      return purgeInBatches(
        purge,
        purgeBatchSize,
        batch(purgeStatement),
        batch(dropResponsesStatement),
      );
    },
  };
}
