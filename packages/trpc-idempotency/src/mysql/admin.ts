import { count } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/mysql2';
import mysql from 'mysql2/promise';
import { adminStatementParts, releaseDecision, statsFromRow } from '../drizzle/adminStatements';
import { recordFromRow } from '../drizzle/recordRow';
import { DatabaseUnavailableError, type IdempotencyAdmin, MAX_BATCH_SIZE } from '../store/admin';
import { idempotencyRecords as t } from './schema';
import { mysqlIdempotencyStore } from './store';

/**
 * {@link IdempotencyAdmin} on a MySQL or MariaDB database (the one the URL's
 * path names). Purge is the store's own (`mysqlIdempotencyStore(…).purge`),
 * and what it counts as purgeable is the store's own conditions: the
 * command can never delete what the store keeps, such as a record that a
 * request is claiming again right now.
 * @see README.md#operations-cli
 */
export async function mysqlIdempotencyAdmin(opts: { uri: string }): Promise<IdempotencyAdmin> {
  const pool = mysql.createPool({ uri: opts.uri, connectionLimit: 2 });
  try {
    const [rows] = await pool.query<mysql.RowDataPacket[]>(
      "SELECT DATABASE() AS db, (SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'idempotency_records') AS found",
    );
    if (!rows[0]?.['db']) {
      throw new Error('the URL names no database: write mysql://user:password@host:port/DATABASE');
    }
    if (Number(rows[0]['found']) === 0) {
      throw new Error('the database has no idempotency_records table (run the migrations first)');
    }
  } catch (cause) {
    await pool.end();
    throw new DatabaseUnavailableError(
      `cannot use MySQL database: ${cause instanceof Error ? cause.message : cause}`,
      { cause },
    );
  }
  const db = drizzle({ client: pool });
  const store = mysqlIdempotencyStore({ db, purgeBatchSize: MAX_BATCH_SIZE });
  const { purgeable: purgeableRows, byId, ownedById, statsFields } = adminStatementParts(t);
  const stats = db.select(statsFields).from(t).prepare();
  const purgeable = db.select({ n: count() }).from(t).where(purgeableRows).prepare();

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
      return Number(row?.n ?? 0);
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
