import { type AnyColumn, and, eq, gt, lte, or, type Placeholder, type SQL, sql } from 'drizzle-orm';

/** The columns of a records table, whatever the dialect (`sqlite/schema.ts`, `pg/schema.ts`). */
export interface RecordColumns {
  scope: AnyColumn;
  key: AnyColumn;
  path: AnyColumn;
  fingerprint: AnyColumn;
  state: AnyColumn;
  owner: AnyColumn;
  attempt: AnyColumn;
  leaseExpiresAtMs: AnyColumn;
  expiresAtMs: AnyColumn;
  createdAtMs: AnyColumn;
  steps: AnyColumn;
  responseExpiresAtMs: AnyColumn;
  outcomeKind: AnyColumn;
  response: AnyColumn;
}

/**
 * The conditions and values of the store statements that SQLite and Postgres
 * share, written once so the two stores (and the operations CLI) cannot drift
 * apart: the record lifecycle is exactly these conditions. Each store builds
 * its dialect's statements from them, with these placeholder names.
 * @see README.md#record-lifecycle
 */
export function recordStatementParts(t: RecordColumns) {
  const p = (name: string) => sql.placeholder(name);
  const now = p('now');
  const byId = and(eq(t.scope, p('scope')), eq(t.key, p('key')))!;
  // Expired: a completed record past its TTL, or an in-progress one abandoned
  // a full TTL past its lease. Lookups never see it; purge deletes it; any
  // request may replace it. One condition for both states, because an
  // in-progress record's expiry is set a TTL after its lease (and moves with it).
  const gone: SQL = lte(t.expiresAtMs, now)!;
  // Which record a request for `path` and `fingerprint` may replace: a gone
  // one, or a take-over of a lapsed lease (in progress, its lease over, for the
  // same procedure and input: a different input gets 422 until it is gone).
  const replaceableBy = (request: { path: SQL | Placeholder; fingerprint: SQL | Placeholder }) =>
    or(
      gone,
      and(
        eq(t.state, 'in_progress'),
        lte(t.leaseExpiresAtMs, now),
        sql`${t.path} = ${request.path}`,
        sql`${t.fingerprint} = ${request.fingerprint}`,
      ),
    )!;
  // A live completed record whose response is past its TTL and still stored:
  // purge drops the response, and the record stays a tombstone until it is
  // gone (SPEC 3.7). Dropping clears `response_expires_at_ms` too, so the
  // index on it holds only responses still to drop, and purge's walk stays flat.
  const responseExpired: SQL = and(lte(t.responseExpiresAtMs, now), gt(t.expiresAtMs, now))!;
  const fresh = (fresh: SQL, kept: SQL) => sql`CASE WHEN ${gone} THEN ${fresh} ELSE ${kept} END`;
  // What an insert writes over a replaceable record: a gone one starts afresh
  // (attempt 1, no steps), a lapsed lease is taken over (attempt + 1, its
  // finished steps and creation time kept).
  const replaceSet = {
    attempt: fresh(sql`1`, sql`${t.attempt} + 1`),
    createdAtMs: fresh(sql`excluded.created_at_ms`, sql`${t.createdAtMs}`),
    path: sql`excluded.path`,
    fingerprint: sql`excluded.fingerprint`,
    owner: sql`excluded.owner`,
    leaseExpiresAtMs: sql`excluded.lease_expires_at_ms`,
    expiresAtMs: sql`excluded.expires_at_ms`,
  };
  return {
    p,
    gone,
    responseExpired,
    /** What purge writes over an expired response: the record becomes a tombstone. */
    dropResponseSet: { outcomeKind: null, response: null, responseExpiresAtMs: null },
    /** The record of one key, by primary key (placeholders `scope` and `key`), live or not. */
    byId,
    /** The owner's record, still in progress: what every fenced write is conditional on. */
    ownedInProgress: and(byId, eq(t.owner, p('owner')), eq(t.state, 'in_progress'))!,
    /** The live record: what lookups see (never an expired one). */
    liveById: and(byId, gt(t.expiresAtMs, now))!,
    /** Which existing record an insert (claim or commit) may replace; `excluded` is the new row. */
    replaceable: replaceableBy({
      path: sql`excluded.path`,
      fingerprint: sql`excluded.fingerprint`,
    }),
    replaceableBy,
    /** A claim's new in-progress record. */
    claimValues: {
      scope: p('scope'),
      key: p('key'),
      path: p('path'),
      fingerprint: p('fingerprint'),
      state: 'in_progress' as const,
      owner: p('owner'),
      attempt: 1,
      leaseExpiresAtMs: p('leaseExpiresAt'),
      expiresAtMs: p('expiresAt'),
      createdAtMs: now,
    },
    /** What a claim writes over a replaceable record. */
    claimSet: {
      ...replaceSet,
      state: 'in_progress' as const,
      steps: fresh(sql`NULL`, sql`${t.steps}`),
      completedAtMs: null,
      outcomeKind: null,
      response: null,
      responseExpiresAtMs: null,
      traceContext: null,
    },
    /** A transactional execution's completed record, inserted with its outcome. */
    completedValues: {
      scope: p('scope'),
      key: p('key'),
      path: p('path'),
      fingerprint: p('fingerprint'),
      state: 'completed' as const,
      owner: p('owner'),
      attempt: 1,
      leaseExpiresAtMs: now,
      expiresAtMs: p('expiresAt'),
      createdAtMs: now,
      completedAtMs: now,
      outcomeKind: p('outcomeKind'),
      response: p('response'),
      responseExpiresAtMs: p('responseExpiresAt'),
      traceContext: p('traceContext'),
    },
    /**
     * What a completed record writes over a replaceable one: a fresh record
     * (attempt 1), whatever it replaces; nothing ran before in this mode.
     */
    completedSet: {
      attempt: sql`1`,
      createdAtMs: sql`excluded.created_at_ms`,
      path: sql`excluded.path`,
      fingerprint: sql`excluded.fingerprint`,
      owner: sql`excluded.owner`,
      leaseExpiresAtMs: sql`excluded.lease_expires_at_ms`,
      expiresAtMs: sql`excluded.expires_at_ms`,
      state: 'completed' as const,
      steps: null,
      completedAtMs: sql`excluded.completed_at_ms`,
      outcomeKind: sql`excluded.outcome_kind`,
      response: sql`excluded.response`,
      responseExpiresAtMs: sql`excluded.response_expires_at_ms`,
      traceContext: sql`excluded.trace_context`,
    },
    /** What completing an owned in-progress record writes (lease mode). */
    completeSet: {
      state: 'completed' as const,
      outcomeKind: sql`${p('outcomeKind')}`,
      response: sql`${p('response')}`,
      completedAtMs: sql`${now}`,
      leaseExpiresAtMs: sql`${now}`,
      expiresAtMs: sql`${p('expiresAt')}`,
      responseExpiresAtMs: sql`${p('responseExpiresAt')}`,
      traceContext: sql`${p('traceContext')}`,
      steps: null,
    },
    /** What renewing a lease writes: the lease, and the expiry a TTL after it. */
    renewSet: {
      leaseExpiresAtMs: sql`${p('leaseExpiresAt')}`,
      expiresAtMs: sql`${p('expiresAt')}`,
    },
    /** What saving steps writes. */
    stepsSet: { steps: sql`${p('steps')}` },
  };
}
