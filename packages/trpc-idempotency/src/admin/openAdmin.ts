import type { IdempotencyAdmin } from './admin';
import { parseDatabaseUrl } from './databaseUrl';
import { DatabaseUnavailableError } from './errors';

/**
 * Opens the admin of the database `databaseUrl` names (read by
 * {@link parseDatabaseUrl}). Each dialect's driver is loaded only when its
 * database is opened, so a SQLite user needs no `pg` and the reverse.
 * Throws a `DatabaseUrlError` for a URL it cannot read, and a
 * {@link DatabaseUnavailableError} when the database cannot be opened or has
 * no records table.
 * @see README.md#operations-cli
 */
export async function openIdempotencyAdmin(databaseUrl: string): Promise<IdempotencyAdmin> {
  const target = parseDatabaseUrl(databaseUrl);
  if (target.kind === 'postgres') {
    const { pgIdempotencyAdmin } = await loadDriver('Postgres', 'pg', () => import('../pg/admin'));
    return pgIdempotencyAdmin({ connectionString: target.connectionString });
  }
  const { sqliteIdempotencyAdmin } = await loadDriver(
    'SQLite',
    'better-sqlite3',
    () => import('../sqlite/admin'),
  );
  try {
    return sqliteIdempotencyAdmin({ file: target.path });
  } catch (cause) {
    throw new DatabaseUnavailableError(
      `cannot open SQLite database ${target.path}: ${cause instanceof Error ? cause.message : cause}`,
      { cause },
    );
  }
}

async function loadDriver<T>(dialect: string, driver: string, load: () => Promise<T>) {
  try {
    return await load();
  } catch (cause) {
    throw new DatabaseUnavailableError(
      `cannot open a ${dialect} database: the ${driver} package failed to load (${cause instanceof Error ? cause.message : cause}); install it beside trpc-idempotency`,
      { cause },
    );
  }
}
