import type { IdempotencyAdmin } from '../admin/admin';
import { DatabaseUnavailableError } from '../admin/errors';
import { sqliteIdempotencyAdmin } from '../admin/sqliteAdmin';

export { DatabaseUnavailableError };

/**
 * `postgres://…` or `postgresql://…` selects Postgres; `file:PATH` or a plain
 * path selects SQLite (the same rule as the example server).
 */
export async function openAdmin(databaseUrl: string): Promise<IdempotencyAdmin> {
  if (/^postgres(ql)?:\/\//.test(databaseUrl)) {
    const { pgIdempotencyAdmin } = await import('../admin/pgAdmin');
    return pgIdempotencyAdmin({ connectionString: databaseUrl });
  }
  const file = databaseUrl.startsWith('file:') ? databaseUrl.slice('file:'.length) : databaseUrl;
  try {
    return sqliteIdempotencyAdmin({ file });
  } catch (cause) {
    throw new DatabaseUnavailableError(
      `cannot open SQLite database ${file}: ${cause instanceof Error ? cause.message : cause}`,
      { cause },
    );
  }
}
