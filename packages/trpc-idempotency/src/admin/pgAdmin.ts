import { and, count, eq, lte, min, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { idempotencyRecords as t } from '../pg/schema';
import { recordFromRow } from '../server/recordRow';
import type { IdempotencyAdmin } from './admin';
import { DatabaseUnavailableError } from './errors';

/** {@link IdempotencyAdmin} on a Postgres database. */
export async function pgIdempotencyAdmin(opts: {
  connectionString: string;
}): Promise<IdempotencyAdmin> {
  const pool = new pg.Pool({ connectionString: opts.connectionString, max: 2 });
  try {
    const found = await pool.query("SELECT to_regclass('idempotency_records') AS t");
    if (!found.rows[0]?.t) {
      throw new Error('the database has no idempotency_records table (run the migrations first)');
    }
  } catch (cause) {
    await pool.end();
    throw new DatabaseUnavailableError(
      `cannot use Postgres database: ${cause instanceof Error ? cause.message : cause}`,
      { cause },
    );
  }
  const db = drizzle(pool);
  const purgeable = (now: number) =>
    and(
      lte(t.expiresAtMs, now),
      sql`(${t.state} = 'completed' OR ${t.leaseExpiresAtMs} <= ${now})`,
    );

  return {
    async stats({ now }) {
      const [row] = await db
        .select({
          total: count(),
          inProgress: sql<string>`count(*) FILTER (WHERE ${t.state} = 'in_progress')`,
          expiredLeases: sql<string>`count(*) FILTER (WHERE ${t.state} = 'in_progress' AND ${t.leaseExpiresAtMs} <= ${now})`,
          completed: sql<string>`count(*) FILTER (WHERE ${t.state} = 'completed')`,
          oldestCreatedAt: min(t.createdAtMs),
        })
        .from(t);
      const [expired] = await db.select({ n: count() }).from(t).where(purgeable(now));
      return {
        total: row?.total ?? 0,
        inProgress: Number(row?.inProgress ?? 0),
        expiredLeases: Number(row?.expiredLeases ?? 0),
        completed: Number(row?.completed ?? 0),
        expiredAwaitingPurge: expired?.n ?? 0,
        oldestCreatedAt: row?.oldestCreatedAt == null ? null : Number(row.oldestCreatedAt),
      };
    },
    async inspect({ scope, key }) {
      const [row] = await db
        .select()
        .from(t)
        .where(and(eq(t.scope, scope), eq(t.key, key)));
      if (!row) return undefined;
      return { ...recordFromRow(row), completedAt: row.completedAtMs };
    },
    async countPurgeable({ now }) {
      const [row] = await db.select({ n: count() }).from(t).where(purgeable(now));
      return row?.n ?? 0;
    },
    async purgeBatch({ now, limit }) {
      const result = await db.execute(
        sql`DELETE FROM ${t} WHERE (${t.scope}, ${t.key}) IN (SELECT ${t.scope}, ${t.key} FROM ${t} WHERE ${purgeable(now)} LIMIT ${limit})`,
      );
      return result.rowCount ?? 0;
    },
    async release({ scope, key, now, force }) {
      return db.transaction(async (tx) => {
        const [row] = await tx
          .select()
          .from(t)
          .where(and(eq(t.scope, scope), eq(t.key, key)))
          .for('update');
        if (!row) return 'not_found';
        if (row.state === 'completed') return 'completed';
        if (row.leaseExpiresAtMs > now && !force) return 'lease_live';
        await tx.delete(t).where(and(eq(t.scope, scope), eq(t.key, key), eq(t.owner, row.owner)));
        return 'released';
      });
    },
    async close() {
      await pool.end();
    },
  };
}
