import { type AnyColumn, and, eq, gt, lte, not, or, type SQL, sql } from 'drizzle-orm';

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
}

/**
 * The conditions and values of the store statements that SQLite and Postgres
 * share, written once so the two stores cannot drift apart (the record
 * lifecycle of SPEC 3 is exactly these conditions). Each store builds its
 * dialect's statements from them, with these placeholder names.
 */
export function recordStatementParts(t: RecordColumns) {
  const p = (name: string) => sql.placeholder(name);
  // A record that is gone for good: expired, and not held by a live lease (a
  // completed record's lease means nothing). Claims may replace it and purge
  // deletes it; while an in-progress record's lease is live, neither does,
  // whatever its expiry says: its owner may still be working on it.
  const gone: SQL = sql`(${t.expiresAtMs} <= ${p('now')} AND (${t.state} = 'completed' OR ${t.leaseExpiresAtMs} <= ${p('now')}))`;
  const byId = and(eq(t.scope, p('scope')), eq(t.key, p('key')))!;
  return {
    p,
    gone,
    /** The owner's record, still in progress: what every fenced write is conditional on. */
    ownedInProgress: and(byId, eq(t.owner, p('owner')), eq(t.state, 'in_progress'))!,
    /** The live record: what lookups see (SPEC 3.5: never an expired one). */
    liveById: and(byId, gt(t.expiresAtMs, p('now')))!,
    /** The record a claim left alone: live, or expired but still held by a live lease. */
    heldById: and(byId, not(gone))!,
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
      createdAtMs: p('now'),
    },
    /**
     * What a claim writes over a record it may replace: a gone one starts
     * afresh (attempt 1), an expired lease is taken over (attempt + 1).
     */
    claimSet: {
      attempt: sql`CASE WHEN ${t.expiresAtMs} <= ${p('now')} THEN 1 ELSE ${t.attempt} + 1 END`,
      createdAtMs: sql`CASE WHEN ${t.expiresAtMs} <= ${p('now')} THEN excluded.created_at_ms ELSE ${t.createdAtMs} END`,
      path: sql`excluded.path`,
      fingerprint: sql`excluded.fingerprint`,
      state: 'in_progress' as const,
      owner: sql`excluded.owner`,
      leaseExpiresAtMs: sql`excluded.lease_expires_at_ms`,
      expiresAtMs: sql`excluded.expires_at_ms`,
      completedAtMs: null,
      outcomeKind: null,
      response: null,
    },
    /** Which records a claim replaces: gone ones, and expired leases with the same path and input. */
    claimReplaces: or(
      gone,
      and(
        eq(t.state, 'in_progress'),
        lte(t.leaseExpiresAtMs, p('now')),
        sql`${t.path} = excluded.path`,
        sql`${t.fingerprint} = excluded.fingerprint`,
      ),
    )!,
    /** What completing a record writes. */
    completeSet: {
      state: 'completed' as const,
      outcomeKind: sql`${p('outcomeKind')}`,
      response: sql`${p('response')}`,
      completedAtMs: sql`${p('now')}`,
      leaseExpiresAtMs: sql`${p('now')}`,
      expiresAtMs: sql`${p('expiresAt')}`,
    },
  };
}
