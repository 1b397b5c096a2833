import { and, count, eq, min, type SQL, sql } from 'drizzle-orm';
import type { IdempotencyStats, ReleaseResult } from '../admin/admin';
import { type RecordColumns, recordStatementParts } from './recordStatements';

/**
 * What the operations admin selects and decides, written once for both
 * dialects in portable SQL: the counts of `stats` (over the store's own
 * "gone" condition, so they count exactly what purge deletes), the record by
 * key, and the rule of `release`.
 */
export function adminStatementParts(t: RecordColumns) {
  const { p, gone, byId } = recordStatementParts(t);
  const countWhere = (condition: SQL) =>
    sql<number | string>`coalesce(sum(CASE WHEN ${condition} THEN 1 ELSE 0 END), 0)`;
  return {
    gone,
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
      expiredAwaitingPurge: countWhere(gone),
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
    expiredAwaitingPurge: Number(row.expiredAwaitingPurge),
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
