import { count } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import { adminStatementParts, releaseDecision, statsFromRow } from '../drizzle/adminStatements';
import { recordFromRow } from '../drizzle/recordRow';
import { DatabaseUnavailableError, type IdempotencyAdmin, MAX_BATCH_SIZE } from '../store/admin';
import { idempotencyRecords as t } from './schema';
import { pgIdempotencyStore } from './store';

/**
 * {@link IdempotencyAdmin} on a Postgres database. Purge is the store's own
 * (`pgIdempotencyStore(…).purge`, which skips rows other transactions hold),
 * and what it counts as purgeable is the store's own conditions: the
 * command can never delete what the store keeps, such as a record that a
 * request is claiming again right now.
 * It takes scopes as records store them: `openIdempotencyAdmin` hashes a long one.
 * @see README.md#operations-cli
 */
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
  const store = pgIdempotencyStore({ db, purgeBatchSize: MAX_BATCH_SIZE });
  const { purgeable: purgeableRows, byId, ownedById, statsFields } = adminStatementParts(t);
  const stats = db.select(statsFields).from(t).prepare('trpc_idempotency_admin_stats');
  const purgeable = db
    .select({ n: count() })
    .from(t)
    .where(purgeableRows)
    .prepare('trpc_idempotency_admin_purgeable');

  return {
    async stats({ now }) {
      const [row] = await stats.execute({ now });
      return statsFromRow(row!);
    },
    async inspect({ scope, key }) {
      const [row] = await db.select().from(t).where(byId).execute({ scope, key });
      if (!row) return undefined;
      return { ...recordFromRow(row), completedAt: row.completedAtMs };
    },
    async countPurgeable({ now }) {
      const [row] = await purgeable.execute({ now });
      return row?.n ?? 0;
    },
    purgeBatch: ({ now, limit }) => store.purge({ now, limit }),
    async release({ scope, key, now, force }) {
      return db.transaction(async (tx) => {
        const [row] = await tx.select().from(t).where(byId).for('update').execute({ scope, key });
        const decision = releaseDecision(row, { now, force });
        if (decision !== 'release') return decision;
        await tx.delete(t).where(ownedById).execute({ scope: row!.scope, key, owner: row!.owner });
        return 'released';
      });
    },
    async close() {
      await pool.end();
    },
  };
}
