import { count, sql } from 'drizzle-orm';
import { adminStatementParts, releaseDecision, statsFromRow } from '../drizzle/adminStatements';
import { recordFromRow } from '../drizzle/recordRow';
import { DatabaseUnavailableError, type IdempotencyAdmin, MAX_BATCH_SIZE } from '../store/admin';
import { type AnyPgDatabase, postgresError } from './drivers';
import { connectNodePostgres } from './drivers/nodePostgres';
import { connectPostgresJs } from './drivers/postgresJs';
import { idempotencyRecords as t } from './schema';
import { pgIdempotencyStore } from './store';

const UNDEFINED_TABLE = '42P01';

/** The drivers the admin can connect with, from a URL. */
export type PgServerDriver = 'node-postgres' | 'postgres.js';

const connectWith = { 'node-postgres': connectNodePostgres, 'postgres.js': connectPostgresJs };

/**
 * {@link IdempotencyAdmin} on the Postgres database `connectionString` names,
 * through `driver`: by default node-postgres (`pg`) if it is installed, else
 * postgres.js (`postgres`), so an app on either needs nothing more.
 * It takes scopes as records store them: `openIdempotencyAdmin` hashes a long one.
 * @see README.md#operations-cli
 */
export async function pgIdempotencyAdmin(opts: {
  connectionString: string;
  driver?: PgServerDriver;
}): Promise<IdempotencyAdmin> {
  const connection = await connect(opts.connectionString, opts.driver);
  try {
    return await pgIdempotencyAdminOn(connection);
  } catch (cause) {
    await connection.close();
    throw new DatabaseUnavailableError(`cannot use Postgres database: ${driverMessage(cause)}`, {
      cause,
    });
  }
}

/** The driver's own message under Drizzle's "Failed query" wrapping (ECONNREFUSED, …). */
function driverMessage(error: unknown): string {
  let at = error;
  for (let depth = 0; depth < 5 && at instanceof Error && at.cause instanceof Error; depth++) {
    at = at.cause;
  }
  return at instanceof Error ? at.message || String(at) : String(at);
}

async function connect(url: string, driver: PgServerDriver | undefined) {
  if (driver) return connectWith[driver](url);
  try {
    return await connectNodePostgres(url);
  } catch (nodePostgresMissing) {
    try {
      return await connectPostgresJs(url);
    } catch {
      throw new DatabaseUnavailableError(
        `cannot open a Postgres database: neither pg (node-postgres) nor postgres (postgres.js) loads (${nodePostgresMissing instanceof Error ? nodePostgresMissing.message : nodePostgresMissing}); install one beside trpc-idempotency`,
        { cause: nodePostgresMissing },
      );
    }
  }
}

/**
 * {@link IdempotencyAdmin} on a Drizzle Postgres database, whatever its
 * driver; `close` ends what the caller opened. Purge is the store's own
 * (`pgIdempotencyStore(…).purge`, which skips rows other transactions hold),
 * and what it counts as purgeable is the store's own conditions: the
 * command can never delete what the store keeps, such as a record that a
 * request is claiming again right now.
 */
export async function pgIdempotencyAdminOn(opts: {
  db: AnyPgDatabase;
  close: () => Promise<void>;
}): Promise<IdempotencyAdmin> {
  const { db } = opts;
  try {
    await db.select({ one: sql`1` }).from(t).limit(0);
  } catch (error) {
    if (postgresError(error)?.code === UNDEFINED_TABLE) {
      throw new Error('the database has no idempotency_records table (run the migrations first)');
    }
    throw error;
  }
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
    close: opts.close,
  };
}
