import { pathToFileURL } from 'node:url';
import type { PgServerDriver } from '../pg/admin';
import { operatorScope } from '../server/recordScope';
import { DatabaseUnavailableError, type IdempotencyAdmin } from '../store/admin';
import { parseDatabaseUrl, redact } from './databaseUrl';

/**
 * Opens the admin of the database `databaseUrl` names (read by
 * {@link parseDatabaseUrl}). Each driver is loaded only when its database is
 * opened, so a SQLite user needs no `pg` or `mysql2`, and so on. A SQLite file is
 * opened with better-sqlite3, or with `@libsql/client` where better-sqlite3
 * is not installed (a libSQL file is a SQLite file); a remote libSQL
 * database with `@libsql/client`. Postgres is opened with node-postgres
 * (`pg`) if it is installed, else with postgres.js.
 * Throws a `DatabaseUrlError` for a URL it cannot read, and a
 * {@link DatabaseUnavailableError} when the database cannot be opened or has
 * no records table.
 * @see README.md#operations-cli
 */
export async function openIdempotencyAdmin(
  databaseUrl: string,
  opts: {
    /** Postgres: the driver to connect with; default node-postgres if `pg` is installed, else postgres.js. */
    pgDriver?: PgServerDriver | undefined;
  } = {},
): Promise<IdempotencyAdmin> {
  return withCallerScopes(await openDialectAdmin(databaseUrl, opts.pgDriver));
}

/** The drivers the admin can connect to Postgres with, from a URL. */
export type { PgServerDriver };

/** Whether `name` is a {@link PgServerDriver}. */
export function isPgServerDriver(name: string): name is PgServerDriver {
  return name === 'node-postgres' || name === 'postgres.js';
}

/** The dialect's admin, which takes scopes as records store them. */
async function openDialectAdmin(
  databaseUrl: string,
  pgDriver: PgServerDriver | undefined,
): Promise<IdempotencyAdmin> {
  const target = parseDatabaseUrl(databaseUrl);
  if (target.kind === 'postgres') {
    const { pgIdempotencyAdmin } = await loadDriver(
      'Postgres',
      'pg or postgres',
      () => import('../pg/admin'),
    );
    return pgIdempotencyAdmin({ connectionString: target.connectionString, driver: pgDriver });
  }
  if (target.kind === 'mysql') {
    const { mysqlIdempotencyAdmin } = await loadDriver(
      'MySQL',
      'mysql2',
      () => import('../mysql/admin'),
    );
    return mysqlIdempotencyAdmin({ uri: target.uri });
  }
  if (target.kind === 'libsql') {
    const { libsqlIdempotencyAdmin } = await loadDriver(
      'libSQL',
      '@libsql/client',
      () => import('../sqlite/drivers/libsqlAdmin'),
    );
    return opening(`libSQL database ${redact(target.url)}`, () =>
      libsqlIdempotencyAdmin({ url: target.url }),
    );
  }
  const betterSqlite3 = await import('../sqlite/admin').catch((cause: unknown) => ({ cause }));
  if ('sqliteIdempotencyAdmin' in betterSqlite3) {
    const { sqliteIdempotencyAdmin } = betterSqlite3;
    return opening(`SQLite database ${target.path}`, async () =>
      sqliteIdempotencyAdmin({ file: target.path }),
    );
  }
  const libsql = await import('../sqlite/drivers/libsqlAdmin').catch(() => undefined);
  if (!libsql) {
    const { cause } = betterSqlite3;
    throw new DatabaseUnavailableError(
      `cannot open a SQLite database: neither better-sqlite3 nor @libsql/client loads (${cause instanceof Error ? cause.message : cause}); install one beside trpc-idempotency`,
      { cause },
    );
  }
  if (target.path === ':memory:') {
    throw new DatabaseUnavailableError('cannot open SQLite database :memory:: it has no records');
  }
  return opening(`SQLite database ${target.path}`, () =>
    libsql.libsqlIdempotencyAdmin({ url: pathToFileURL(target.path).href, mustExist: true }),
  );
}

/**
 * `admin` taking the scope your builder's `scope` option returns, as the
 * engine stores it (a long one as its hash, `recordScope`), or that hash as
 * the CLI prints it (`operatorScope`): written once here, above every
 * dialect, so no dialect depends on the engine.
 */
function withCallerScopes(admin: IdempotencyAdmin): IdempotencyAdmin {
  return {
    ...admin,
    inspect: (id) => admin.inspect({ ...id, scope: operatorScope(id.scope) }),
    release: (opts) => admin.release({ ...opts, scope: operatorScope(opts.scope) }),
  };
}

async function opening(what: string, open: () => Promise<IdempotencyAdmin>) {
  try {
    return await open();
  } catch (cause) {
    throw new DatabaseUnavailableError(
      `cannot open ${what}: ${cause instanceof Error ? cause.message : cause}`,
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
