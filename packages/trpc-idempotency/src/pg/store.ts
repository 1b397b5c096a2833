import { type Query, type SQL, sql } from 'drizzle-orm';
import type { NodePgDatabase, NodePgQueryResultHKT } from 'drizzle-orm/node-postgres';
import type {
  PgDatabase,
  PgPreparedQuery,
  PgTransaction,
  PgTransactionConfig,
  PreparedQueryConfig,
} from 'drizzle-orm/pg-core';
import type { Pool, QueryResult } from 'pg';
import type { IdempotencyRecord, StoredOutcome } from '../server/record';
import { recordStatementParts } from '../server/recordStatements';
import {
  type ClaimOptions,
  type ClaimResult,
  type CompleteOptions,
  type IdempotencyStore,
  LeaseLostError,
} from '../server/store';
import { idempotencyRecords as t } from './schema';

// biome-ignore lint/suspicious/noExplicitAny: any schema the user's database has
type AnyPgDatabase = NodePgDatabase<any> & { $client: Pool };
// biome-ignore lint/suspicious/noExplicitAny: a database or a transaction of any schema
type Queryable = PgDatabase<NodePgQueryResultHKT, any, any>;
// biome-ignore lint/suspicious/noExplicitAny: a transaction of any schema
type AnyPgTransaction = PgTransaction<NodePgQueryResultHKT, any, any>;

/** The transaction handle of a Drizzle node-postgres database. */
export type inferPgTransaction<TDb extends AnyPgDatabase> = Parameters<
  Parameters<TDb['transaction']>[0]
>[0];

/**
 * Options of {@link pgIdempotencyStore}.
 * @see README.md#postgres
 */
export interface PgIdempotencyStoreOptions<TDb extends AnyPgDatabase> {
  /**
   * Your Drizzle database on a `pg.Pool` (node-postgres). In transactional
   * mode every execution holds one pooled connection until it commits.
   */
  db: TDb;
  /**
   * Transactional mode: how long a duplicate's claim waits on the key's
   * unique index for the first execution to commit or roll back, in ms, per
   * attempt. After it the duplicate answers `CONFLICT` (in progress) once the
   * builder's `inFlight.timeoutMs` is spent. Default 2000.
   */
  lockTimeoutMs?: number;
  /** Records deleted per purge batch. Default 1000. */
  purgeBatchSize?: number;
}

/**
 * The Postgres store: an {@link IdempotencyStore} with asynchronous
 * transactions, and `inTransaction` to run a whole execution in one.
 */
export interface PgIdempotencyStore<TTx> extends IdempotencyStore<TTx> {
  readonly transactionKind: 'async';
  /**
   * Runs one execution in one `READ COMMITTED` transaction on one pooled
   * connection: committed when `execution` resolves (a result or a stored
   * final error), rolled back when it rejects. Used by the builder in
   * transactional mode.
   */
  inTransaction<T>(execution: (store: IdempotencyStore<TTx>) => Promise<T>): Promise<T>;
}

// The claim relies on READ COMMITTED: after waiting on the key's index entry,
// the duplicate's statements see the first execution's committed record.
const READ_COMMITTED: PgTransactionConfig = { isolationLevel: 'read committed' };
const CLAIM_SAVEPOINT = 'trpc_idempotency_claim';
// Also undoes the claim's SET LOCAL lock_timeout.
const UNDO_CLAIM = sql.raw(
  `ROLLBACK TO SAVEPOINT ${CLAIM_SAVEPOINT}; RELEASE SAVEPOINT ${CLAIM_SAVEPOINT}`,
);
const KEEP_CLAIM = sql.raw(
  `RELEASE SAVEPOINT ${CLAIM_SAVEPOINT}; SET LOCAL lock_timeout TO DEFAULT`,
);
const LOCK_NOT_AVAILABLE = '55P03';

/**
 * An idempotency store in Postgres (or a Postgres-compatible engine) through
 * Drizzle node-postgres, for several server processes or machines (SPEC 6.3).
 * Lookups are by primary key with named prepared statements; purge walks the
 * expiry index in batches.
 *
 * In transactional mode each execution runs in one transaction of its own
 * (`inTransaction`): its claim inserts the record uncommitted, so a
 * duplicate's claim in another process blocks on the key's unique index until
 * the first commits (the duplicate replays) or rolls back (it executes),
 * bounded by `lockTimeoutMs` (SPEC 5.3).
 * @see README.md#postgres
 */
export function pgIdempotencyStore<TDb extends AnyPgDatabase>(
  opts: PgIdempotencyStoreOptions<TDb>,
): PgIdempotencyStore<inferPgTransaction<TDb>> {
  type TTx = inferPgTransaction<TDb>;
  const { db } = opts;
  if (!isPool(db.$client)) {
    throw new TypeError(
      'pgIdempotencyStore needs a Drizzle database on a pg.Pool: transactions need connections of their own',
    );
  }
  const lockTimeoutMs = positiveInteger('lockTimeoutMs', opts.lockTimeoutMs ?? 2000);
  const purgeBatchSize = positiveInteger('purgeBatchSize', opts.purgeBatchSize ?? 1000);
  // Built once here; each execution's transaction binds them to its connection.
  const statements = buildStatements(db);
  const pooled = primitivesOn(db, statements, purgeBatchSize);
  const insertPooled = async (claim: ClaimOptions) => acquiredBy(await pooled.insert(claim));

  /**
   * The store one execution's transaction runs on: every primitive uses `tx`.
   * `release` deletes the record inside the transaction, but what frees the
   * key is the rollback: the executor rethrows after releasing, so the whole
   * transaction, the record's insert included, is undone.
   */
  function boundTo(tx: AnyPgTransaction): IdempotencyStore<TTx> {
    const bound = primitivesOn(tx, statements, purgeBatchSize);
    const savepoint = (statement: SQL) => tx.execute(statement);
    // Waits on a concurrent execution's uncommitted record, up to the lock timeout. The
    // claim's own savepoint catches the timeout, so the outer transaction stays usable.
    const insertOrWait = async (claim: ClaimOptions): Promise<ClaimResult | undefined> => {
      // Never wait longer than the request may: 0 would mean no limit in Postgres, so 1 ms at least.
      const waitMs = Math.max(1, Math.min(lockTimeoutMs, Math.ceil(claim.maxWaitMs)));
      await savepoint(sql.raw(`SAVEPOINT ${CLAIM_SAVEPOINT}; SET LOCAL lock_timeout = ${waitMs}`));
      let row: IdempotencyRecord | undefined;
      try {
        row = await bound.insert(claim);
      } catch (error) {
        try {
          await savepoint(UNDO_CLAIM);
        } catch {
          throw error;
        }
        if (hasCode(error, LOCK_NOT_AVAILABLE)) return stillRunning(claim);
        throw error;
      }
      await savepoint(
        row
          ? // Keep the record; the handler's own statements get the usual lock timeout back.
            KEEP_CLAIM
          : // Drop the row lock ON CONFLICT took, so no one waits on this request while it polls.
            UNDO_CLAIM,
      );
      return acquiredBy(row);
    };
    return {
      transactionKind: 'async',
      claim: (claim) => claimWith(claim, insertOrWait, bound.held),
      find: bound.find,
      renewLease: bound.renewLease,
      complete: bound.complete,
      release: bound.release,
      purge: bound.purge,
      // A savepoint: a final error thrown by `write` rolls back the writes only,
      // and the executor stores that error in the same outer transaction.
      commit: (commit, write, encode) =>
        tx.transaction((inner) =>
          commitOn(inner as TTx, bound.complete, { commit, write, encode }),
        ),
    };
  }

  return {
    transactionKind: 'async',
    claim: (claim) => claimWith(claim, insertPooled, pooled.held),
    find: pooled.find,
    renewLease: pooled.renewLease,
    complete: pooled.complete,
    release: pooled.release,
    purge: pooled.purge,
    commit: (commit, write, encode) =>
      db.transaction(
        (tx) =>
          commitOn(tx as TTx, primitivesOn(tx, statements, purgeBatchSize).complete, {
            commit,
            write,
            encode,
          }),
        READ_COMMITTED,
      ),
    inTransaction: (execution) => db.transaction((tx) => execution(boundTo(tx)), READ_COMMITTED),
  };
}

/**
 * Claim: insert or take over in one statement; when that leaves the record
 * alone, read it (even if expired: a live lease still holds it). Once more if
 * it vanished in between (released or purged).
 */
async function claimWith(
  claim: ClaimOptions,
  insert: (claim: ClaimOptions) => Promise<ClaimResult | undefined>,
  held: (id: ClaimOptions) => Promise<IdempotencyRecord | undefined>,
): Promise<ClaimResult> {
  for (let round = 0; round < 2; round++) {
    const inserted = await insert(claim);
    if (inserted) return inserted;
    const record = await held(claim);
    if (record) return { acquired: false, record };
  }
  throw new Error('idempotency record vanished twice during one claim');
}

/** Write, encode and complete inside `tx`; losing the lease throws, rolling it all back. */
async function commitOn<TTx, R>(
  tx: TTx,
  complete: (opts: CompleteOptions) => Promise<boolean>,
  step: {
    commit: Omit<CompleteOptions, 'outcome'>;
    write: (tx: TTx) => R;
    encode: (result: Awaited<R>) => StoredOutcome;
  },
): Promise<Awaited<R>> {
  // The executor's encoder refuses promises: it gets the write's resolved value.
  const result = await step.write(tx);
  const outcome = step.encode(result);
  if (!(await complete({ ...step.commit, outcome }))) throw new LeaseLostError(step.commit);
  return result;
}

/**
 * A duplicate whose claim timed out waiting for another execution's
 * uncommitted record: that record is invisible, so answer as if it were in
 * progress with this request's own input. The executor then waits again or
 * answers `CONFLICT`; that lease ends before this request's would.
 */
function stillRunning(claim: ClaimOptions): ClaimResult {
  return {
    acquired: false,
    record: {
      scope: claim.scope,
      key: claim.key,
      path: claim.path,
      fingerprint: claim.fingerprint,
      state: 'in_progress',
      owner: '',
      attempt: 1,
      leaseExpiresAt: claim.leaseExpiresAt,
      expiresAt: claim.expiresAt,
      createdAt: claim.now,
      outcome: null,
    },
  };
}

function acquiredBy(record: IdempotencyRecord | undefined): ClaimResult | undefined {
  return record && { acquired: true, record, takenOver: record.attempt > 1 };
}

/** A row of the records table as node-postgres returns it: column names, `bigint` as text. */
interface RawRow {
  scope: string;
  key: string;
  path: string;
  fingerprint: string;
  state: 'in_progress' | 'completed';
  owner: string;
  attempt: number;
  lease_expires_at_ms: string | number;
  expires_at_ms: string | number;
  created_at_ms: string | number;
  outcome_kind: 'result' | 'error' | null;
  response: string | null;
}

/** A statement's SQL and parameters (placeholders), built once per store, and its name. */
interface Statement {
  name: string;
  query: Query;
}

/**
 * Every statement of the store, built (SQL text and parameter list) once per
 * store. Each runs as a named prepared statement: Postgres parses it once per
 * connection, on the pool and inside transactions alike.
 */
function buildStatements(db: Queryable) {
  const statement = (name: string, builder: { toSQL(): Query }): Statement => ({
    name,
    query: builder.toSQL(),
  });
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

  return {
    // Insert, or replace a gone record, or take over an expired lease with the
    // same path and input. Anything else is left alone and returns no row.
    claim: statement(
      'trpc_idempotency_claim',
      db
        .insert(t)
        .values(claimValues)
        .onConflictDoUpdate({ target: [t.scope, t.key], set: claimSet, setWhere: claimReplaces })
        .returning(),
    ),
    find: statement('trpc_idempotency_find', db.select().from(t).where(liveById)),
    held: statement('trpc_idempotency_held', db.select().from(t).where(heldById)),
    complete: statement(
      'trpc_idempotency_complete',
      db.update(t).set(completeSet).where(ownedInProgress),
    ),
    release: statement('trpc_idempotency_release', db.delete(t).where(ownedInProgress)),
    renew: statement(
      'trpc_idempotency_renew',
      db
        .update(t)
        .set({
          leaseExpiresAtMs: sql`${p('leaseExpiresAt')}`,
          expiresAtMs: sql`GREATEST(${t.expiresAtMs}, ${p('leaseExpiresAt')})`,
        })
        .where(ownedInProgress),
    ),
    // Rows another transaction holds are skipped, not waited for.
    purge: statement(
      'trpc_idempotency_purge',
      db
        .delete(t)
        .where(
          sql`(${t.scope}, ${t.key}) IN (SELECT ${t.scope}, ${t.key} FROM ${t} WHERE ${gone} LIMIT ${p('limit')} FOR UPDATE SKIP LOCKED)`,
        ),
    ),
  };
}

type Statements = ReturnType<typeof buildStatements>;

/**
 * The store's primitives on a database or one transaction: the statements
 * built once per store, bound to this session's connection on first use.
 */
function primitivesOn(database: Queryable, statements: Statements, purgeBatchSize: number) {
  const session = database._.session;
  const bound = new Map<Statement, PgPreparedQuery<PreparedQueryConfig>>();
  const run = async (statement: Statement, values: Record<string, unknown>) => {
    let prepared = bound.get(statement);
    if (!prepared) {
      prepared = session.prepareQuery(statement.query, undefined, statement.name, false);
      bound.set(statement, prepared);
    }
    return (await prepared.execute(values)) as QueryResult<RawRow>;
  };
  const rowOf = async (statement: Statement, values: Record<string, unknown>) => {
    const { rows } = await run(statement, values);
    return rows[0] ? toRecord(rows[0]) : undefined;
  };
  const changed = async (statement: Statement, values: Record<string, unknown>) =>
    (await run(statement, values)).rowCount === 1;

  return {
    insert: (claim: ClaimOptions) => rowOf(statements.claim, { ...claim }),
    find: (id: { scope: string; key: string; now: number }) =>
      rowOf(statements.find, { scope: id.scope, key: id.key, now: id.now }),
    held: (id: { scope: string; key: string; now: number }) =>
      rowOf(statements.held, { scope: id.scope, key: id.key, now: id.now }),
    renewLease: (renew: { scope: string; key: string; owner: string; leaseExpiresAt: number }) =>
      changed(statements.renew, { ...renew }),
    complete: (complete: CompleteOptions) =>
      changed(statements.complete, {
        scope: complete.scope,
        key: complete.key,
        owner: complete.owner,
        outcomeKind: complete.outcome.kind,
        response: complete.outcome.body,
        now: complete.now,
        expiresAt: complete.expiresAt,
      }),
    release: (fenced: { scope: string; key: string; owner: string }) =>
      changed(statements.release, { ...fenced }),
    async purge(purge: { now: number; limit?: number }) {
      const limit = purge.limit ?? Number.POSITIVE_INFINITY;
      let deleted = 0;
      while (deleted < limit) {
        const batch = Math.min(purgeBatchSize, limit - deleted);
        const { rowCount } = await run(statements.purge, { now: purge.now, limit: batch });
        deleted += rowCount ?? 0;
        if ((rowCount ?? 0) < batch) break;
      }
      return deleted;
    },
  };
}

function toRecord(row: RawRow): IdempotencyRecord {
  return {
    scope: row.scope,
    key: row.key,
    path: row.path,
    fingerprint: row.fingerprint,
    state: row.state,
    owner: row.owner,
    attempt: row.attempt,
    leaseExpiresAt: Number(row.lease_expires_at_ms),
    expiresAt: Number(row.expires_at_ms),
    createdAt: Number(row.created_at_ms),
    outcome:
      row.outcome_kind === 'error'
        ? { kind: 'error', body: row.response ?? '' }
        : row.outcome_kind === 'result'
          ? { kind: 'result', body: row.response }
          : null,
  };
}

function isPool(client: unknown) {
  return (
    typeof client === 'object' &&
    client !== null &&
    'totalCount' in client &&
    'idleCount' in client &&
    typeof (client as { connect?: unknown }).connect === 'function'
  );
}

/** Drizzle wraps driver errors: look for the SQLSTATE along the cause chain. */
function hasCode(error: unknown, code: string): boolean {
  for (let at = error, depth = 0; at && depth < 5; depth++) {
    if (typeof at === 'object' && (at as { code?: unknown }).code === code) return true;
    at = (at as { cause?: unknown }).cause;
  }
  return false;
}

function positiveInteger(name: string, value: number) {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`pgIdempotencyStore: ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
