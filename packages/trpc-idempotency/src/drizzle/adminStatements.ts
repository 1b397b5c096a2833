import { and, count, eq, min, or, type SQL, sql } from 'drizzle-orm';
import type { IdempotencyStats, ReleaseResult } from '../store/admin';
import { type RecordColumns, recordStatementParts } from './recordStatements';

/**
 * What the operations admin selects and decides, written once for both
 * dialects in portable SQL: the counts of `stats` (over the store's own
 * conditions, so they count exactly what purge deletes and drops), the record by
 * key, and the rule of `release`.
 */
export function adminStatementParts(t: RecordColumns) {
  const { p, gone, responseExpired, byId } = recordStatementParts(t);
  const countWhere = (condition: SQL) =>
    sql<number | string>`coalesce(sum(CASE WHEN ${condition} THEN 1 ELSE 0 END), 0)`;
  return {
    gone,
    /** What purge touches: records it deletes, responses it drops. */
    purgeable: or(gone, responseExpired)!,
    byId,
    /** The record of `scope` and `key` while `owner` still holds it: what `release` deletes. */
    ownedById: and(byId, eq(t.owner, p('owner')))!,
    statsFields: {
      total: count(),
      inProgress: countWhere(sql`${t.state} = 'in_progress'`),
      expiredLeases: countWhere(
        sql`${t.state} = 'in_progress' AND ${t.leaseExpiresAtMs} <= ${p('now')}`,
      ),
      completed: countWhere(sql`${t.state} = 'completed'`),
      // isTombstone's rule: live, completed, its response past its TTL or dropped.
      tombstones: countWhere(
        sql`${t.state} = 'completed' AND ${t.expiresAtMs} > ${p('now')} AND (${t.outcomeKind} IS NULL OR ${t.responseExpiresAtMs} <= ${p('now')})`,
      ),
      expiredAwaitingPurge: countWhere(gone),
      responsesAwaitingPurge: countWhere(responseExpired),
      oldestCreatedAt: sql<number | string | null>`${min(t.createdAtMs)}`,
    },
  };
}

/** A stats row as numbers (Postgres answers sums and bigints as text). */
export function statsFromRow(
  row: Record<keyof Omit<IdempotencyStats, 'oldestCreatedAt'>, number | string> & {
    oldestCreatedAt: number | string | null;
  },
): IdempotencyStats {
  return {
    total: Number(row.total),
    inProgress: Number(row.inProgress),
    expiredLeases: Number(row.expiredLeases),
    completed: Number(row.completed),
    tombstones: Number(row.tombstones),
    expiredAwaitingPurge: Number(row.expiredAwaitingPurge),
    responsesAwaitingPurge: Number(row.responsesAwaitingPurge),
    oldestCreatedAt: row.oldestCreatedAt === null ? null : Number(row.oldestCreatedAt),
  };
}

/**
 * Whether `release` may delete the record as it stands: never a completed one
 * (the operation would run twice), not a live lease unless forced.
 */
export function releaseDecision(
  row: { state: string; leaseExpiresAtMs: number } | undefined,
  opts: { now: number; force: boolean },
): ReleaseResult | 'release' {
  if (!row) return 'not_found';
  if (row.state === 'completed') return 'completed';
  if (row.leaseExpiresAtMs > opts.now && !opts.force) return 'lease_live';
  return 'release';
}
