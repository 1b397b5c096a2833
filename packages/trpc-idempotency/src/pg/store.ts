import { and, fillPlaceholders, getTableName, type Query, sql } from 'drizzle-orm';
import type { NodePgDatabase } from 'drizzle-orm/node-postgres';
import pg, { type Pool } from 'pg';
import {
  completedRecordValues,
  completionValues,
  type IdempotencyRecordRow,
  recordFromRow,
  stepsColumn,
} from '../drizzle/recordRow';
import { recordStatementParts } from '../drizzle/recordStatements';
import { insertCompletedOrFind, positiveInteger, purgeInBatches } from '../drizzle/storeOperations';
import type { StoredOutcome } from '../store/record';
import type { CommitOptions, CommitResult, IdempotencyStore } from '../store/store';
import { idempotencyRecords as t } from './schema';

// biome-ignore lint/suspicious/noExplicitAny: any schema the user's database has
type AnyPgDatabase = NodePgDatabase<any> & { $client: Pool };

/** The transaction handle of a Drizzle node-postgres database. */
export type inferPgTransaction<TDb extends AnyPgDatabase> = Parameters<
  Parameters<TDb['transaction']>[0]
>[0];

/**
 * Options of {@link pgIdempotencyStore}.
 * @see README.md#postgres
 */
export interface PgIdempotencyStoreOptions<TDb extends AnyPgDatabase> {
  /** Your Drizzle database on a `pg.Pool` (node-postgres). */
  db: TDb;
  /**
   * Transactional mode: the longest a first execution's commit waits for a
   * concurrent execution of the same key to commit or roll back, in ms (it
   * also never waits longer than the request's `inFlight.timeoutMs` left).
   * After it, the request answers `CONFLICT` (in progress). Default 2000.
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
 * An idempotency store in Postgres (or a Postgres-compatible engine) through
 * Drizzle node-postgres, for several server processes or machines. Lookups
 * and lease-mode writes are named prepared statements by primary key; purge
 * walks the expiry index in batches and skips rows other transactions hold.
 *
 * A transactional first execution is one transaction: the handler's writes,
 * then the completed record's insert, sent together with `COMMIT` in one
 * round trip. A concurrent duplicate's insert blocks on the key's unique
 * index until the first commits (the duplicate's writes roll back and it
 * replays) or rolls back (it commits), bounded by `lockTimeoutMs`.
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

  // The end of a transactional execution, as SQL text with literal values: sent
  // as one simple-protocol message with COMMIT (no parameters allowed there),
  // it costs one round trip where a parameterized insert and COMMIT cost two.
  // A key held by a live record makes the INSERT fail (unique violation), so
  // COMMIT never runs and the writes roll back.
  const fusedCommit = [
    inlinable(
      db
        .delete(t)
        .where(and(byId, replaceableBy({ path: p('path'), fingerprint: p('fingerprint') })))
        .toSQL(),
    ),
    inlinable(db.insert(t).values(completedValues).toSQL()),
  ];

  const find = async (id: { scope: string; key: string; now: number }) => {
    const [row] = (await findStatement.execute(id)) as IdempotencyRecordRow[];
    return row ? recordFromRow(row) : undefined;
  };
  const changed = async (
    statement: { execute(values: Record<string, unknown>): Promise<unknown> },
    values: Record<string, unknown>,
  ) => ((await statement.execute(values)) as pg.QueryResult).rowCount === 1;
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
      // Never wait longer than the request may: 0 would mean no limit in Postgres, so 1 ms at least.
      const waitMs = Math.max(1, Math.min(lockTimeoutMs, Math.ceil(commit.maxWaitMs)));
      return new Promise((resolve, reject) => {
        let committed = false;
        let finishing = false;
        db.transaction(async (tx) => {
          const result = await write(tx as TTx);
          const outcome = encode(result as Awaited<R>);
          const values = completedRecordValues(commit, outcome);
          finishing = true;
          // BEGIN again at the end: Drizzle commits the transaction it opened when
          // this callback returns; that empty transaction travels after the answer.
          await tx.execute(
            sql.raw(
              `SET LOCAL lock_timeout = ${waitMs}; ${fusedCommit.map((statement) => statement(values)).join('; ')}; COMMIT; BEGIN`,
            ),
          );
          committed = true;
          resolve({ status: 'committed', result: result as Awaited<R>, outcome });
        }).catch(async (error: unknown) => {
          // Committed already: only the empty transaction after it failed; nothing is lost.
          if (committed) return;
          // The records table's unique key only: a deferred constraint of the
          // handler's own tables also fails at COMMIT, and is the handler's error.
          if (finishing && driverError(error, UNIQUE_VIOLATION)?.table === RECORDS_TABLE) {
            holder(commit).then(resolve, reject);
          } else if (finishing && driverError(error, LOCK_NOT_AVAILABLE)) {
            resolve({ status: 'busy' });
          } else {
            reject(error);
          }
        });
      });
    },
    insertCompleted: (opts) =>
      insertCompletedOrFind(
        opts.outcome,
        () => changed(insertCompletedStatement, completedRecordValues(opts, opts.outcome)),
        () => find(opts),
      ),
    async claim(claim) {
      for (let round = 0; round < 2; round++) {
        const [row] = (await claimStatement.execute({ ...claim })) as IdempotencyRecordRow[];
        if (row) {
          return { acquired: true, record: recordFromRow(row), takenOver: row.attempt > 1 };
        }
        const record = await find(claim);
        if (record) return { acquired: false, record };
        // Gone between the two statements (released, or expired this very millisecond): claim again.
      }
      throw new Error('idempotency record vanished twice during one claim');
    },
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
        async (limit: number) => {
          const { rowCount } = (await statement.execute({
            now: purge.now,
            limit,
          })) as pg.QueryResult;
          return rowCount ?? 0;
        };
      return purgeInBatches(
        purge,
        purgeBatchSize,
        batch(purgeStatement),
        batch(dropResponsesStatement),
      );
    },
  };
}

/**
 * A statement Drizzle built, turned into a function of its placeholder values
 * that returns SQL text with every parameter written as a literal:
 * `pg.escapeLiteral` for text (correct whatever `standard_conforming_strings`
 * says), numbers only when they are safe integers.
 */
function inlinable(query: Query): (values: Record<string, unknown>) => string {
  const parts = query.sql.split(/\$(\d+)/);
  return (values) => {
    const params = fillPlaceholders(query.params, values);
    let text = '';
    for (let i = 0; i < parts.length; i++) {
      text += i % 2 === 0 ? parts[i] : literal(params[Number(parts[i]) - 1]);
    }
    return text;
  };
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return pg.escapeLiteral(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new TypeError(`cannot write ${typeof value} ${String(value)} as a SQL literal`);
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

/** Drizzle wraps driver errors: the error with this SQLSTATE along the cause chain, if any. */
function driverError(error: unknown, code: string): { table?: string } | undefined {
  for (let at = error, depth = 0; at && depth < 5; depth++) {
    if (typeof at === 'object' && (at as { code?: unknown }).code === code) {
      return at as { table?: string };
    }
    at = (at as { cause?: unknown }).cause;
  }
  return undefined;
}
