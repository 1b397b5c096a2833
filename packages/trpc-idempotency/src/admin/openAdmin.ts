import { recordScope } from '../server/recordScope';
import { DatabaseUnavailableError, type IdempotencyAdmin } from '../store/admin';
import { parseDatabaseUrl } from './databaseUrl';

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
  return withCallerScopes(await openDialectAdmin(databaseUrl));
}

/** The dialect's admin, which takes scopes as records store them. */
async function openDialectAdmin(databaseUrl: string): Promise<IdempotencyAdmin> {
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

/**
 * `admin` taking the scope your builder's `scope` option returns, as the
 * engine stores it (a long one as its hash, `recordScope`): written once
 * here, above every dialect, so no dialect depends on the engine.
 */
function withCallerScopes(admin: IdempotencyAdmin): IdempotencyAdmin {
  return {
    ...admin,
    inspect: (id) => admin.inspect({ ...id, scope: recordScope(id.scope) }),
    release: (opts) => admin.release({ ...opts, scope: recordScope(opts.scope) }),
  };
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
