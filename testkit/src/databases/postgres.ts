import { parseDatabaseUrl } from 'trpc-idempotency/admin';
// The library's embedded-Postgres helper, one implementation for the workspace: the kit
// is its only way into the apps, the suites and the bench.
import {
  createTestDatabase,
  type PostgresServer,
  type PostgresTestDatabase,
  startEmbeddedPostgres,
} from '../../../packages/trpc-idempotency/test/stores/postgres';

export { createTestDatabase, type PostgresServer, type PostgresTestDatabase };

/** Options of {@link startPostgresServer}. */
export interface StartPostgresServerOptions {
  /**
   * The environment variable that may name a server to use instead
   * (`postgres://…`, read by the library's `parseDatabaseUrl`; any other
   * database is ignored). Default `DATABASE_URL`.
   */
  urlVariable?: string;
  /** Embedded: keep `fsync` and full-page writes on, for figures worth comparing. Default off. */
  durable?: boolean;
}

/**
 * A Postgres server to create databases on: the one `urlVariable` names, left
 * running afterwards, or else a fresh embedded Postgres 17 on a free loopback
 * port, stopped and removed on dispose. An unreadable URL in the variable is
 * a `DatabaseUrlError`.
 */
export async function startPostgresServer(
  opts: StartPostgresServerOptions = {},
): Promise<PostgresServer & { external: boolean }> {
  const value = process.env[opts.urlVariable ?? 'DATABASE_URL'];
  const target = value ? parseDatabaseUrl(value) : undefined;
  if (target?.kind === 'postgres') {
    return { url: target.connectionString, external: true, [Symbol.asyncDispose]: async () => {} };
  }
  const server = await startEmbeddedPostgres({ durable: opts.durable });
  return {
    url: server.url,
    external: false,
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}
