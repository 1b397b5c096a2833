import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { drizzle, type MySql2Database } from 'drizzle-orm/mysql2';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, inject } from 'vitest';
import { migrateMysqlIdempotencyStore } from '../../src/mysql';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Set by `mariadb.globalSetup.ts` when the config uses it: one server per test run. */
    mysqlUrl?: string;
  }
}

/** A MySQL or MariaDB server for tests; disposing it stops it and removes its files. */
export interface MysqlServer extends AsyncDisposable {
  /** Connection URL (`mysql://…`) of a user who may create databases, without a database. */
  readonly url: string;
}

const MYSQL_URL = /^(mysql|mariadb):\/\//i;

/**
 * The server tests run against: the one `MYSQL_URL` (or `DATABASE_URL`, when
 * it is `mysql://…`) points at, left running afterwards, or else a fresh
 * MariaDB from Debian's `mariadb-server` package on a free port.
 */
export async function startMysql(): Promise<MysqlServer> {
  const external = [process.env['MYSQL_URL'], process.env['DATABASE_URL']].find(
    (url) => url && MYSQL_URL.test(url),
  );
  if (external) {
    return { url: external.replace(/^mariadb:/i, 'mysql:'), [Symbol.asyncDispose]: async () => {} };
  }
  return startMariadb();
}

/** Where Debian installs the server, then PATH. */
function findProgram(name: string, dirs: string[]) {
  for (const dir of [...dirs, ...(process.env['PATH'] ?? '').split(delimiter)]) {
    if (dir && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/**
 * A fresh MariaDB on a free loopback port, its data in a new temp folder
 * (created by `mariadb-install-db`, about a second), run as a child process
 * with no configuration file read (`--no-defaults`), no binary log and
 * relaxed flushing (durability is not under test). Disposing it stops the
 * process, waits for it to exit and removes the folder.
 */
export async function startMariadb(): Promise<MysqlServer> {
  const server = findProgram('mariadbd', ['/usr/sbin', '/usr/libexec']);
  const installDb = findProgram('mariadb-install-db', ['/usr/bin']);
  if (!server || !installDb) {
    throw new Error(
      'MariaDB is not installed: the MySQL tests start a MariaDB server of their own (mariadbd, mariadb-install-db). Install Debian’s mariadb-server package (apt-get install mariadb-server; .ci/run does), or set MYSQL_URL=mysql://user:password@host:port to a server where that user may create databases.',
    );
  }
  const dir = await mkdtemp(join(tmpdir(), 'trpc-idempotency-mariadb-'));
  const data = join(dir, 'data');
  let child: ChildProcess | undefined;
  const log: string[] = [];
  const stop = async () => {
    const running = child;
    child = undefined;
    if (running && running.exitCode === null && running.signalCode === null) {
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGTERM');
      const timeout = sleep(15_000).then(() => 'timeout');
      if ((await Promise.race([exited, timeout])) === 'timeout') {
        running.kill('SIGKILL');
        await exited;
      }
    }
    process.off('exit', killOnExit);
  };
  // If the test process ends without disposing (a crash), the server must not outlive it.
  const killOnExit = () => child?.kill('SIGKILL');
  const removeAll = async () => {
    await stop();
    await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  };
  try {
    await promisify(execFile)(installDb, [
      '--no-defaults',
      `--datadir=${data}`,
      '--user=root',
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
    ]).catch((cause: { stderr?: string }) => {
      throw new Error(`mariadb-install-db failed: ${cause.stderr ?? ''}`, { cause });
    });
    process.on('exit', killOnExit);
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const started = spawn(
        server,
        [
          '--no-defaults',
          `--datadir=${data}`,
          '--user=root',
          `--port=${port}`,
          '--bind-address=127.0.0.1',
          `--socket=${join(dir, 'mariadb.sock')}`,
          `--pid-file=${join(dir, 'mariadb.pid')}`,
          '--skip-log-bin',
          '--skip-name-resolve',
          '--innodb-flush-log-at-trx-commit=2',
          '--innodb-buffer-pool-size=64M',
          '--max-connections=500',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child = started;
      started.stdout?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
      started.stderr?.on('data', (chunk: Buffer) => log.push(chunk.toString()));
      const password = randomBytes(12).toString('hex');
      try {
        await waitUntilReady(started, port);
        // root may log in from 127.0.0.1 without a password after install: give it one.
        const admin = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
        await admin.query(`ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '${password}'`);
        await admin.end();
        return {
          url: `mysql://root:${password}@127.0.0.1:${port}`,
          [Symbol.asyncDispose]: removeAll,
        };
      } catch (cause) {
        await stop();
        if (attempt === 3) {
          throw new Error(`MariaDB did not start:\n${log.join('')}`, { cause });
        }
      }
    }
  } catch (error) {
    await removeAll();
    throw error;
  }
}

/** Connects until the server answers; fails at once if the process exited (a port taken). */
async function waitUntilReady(child: ChildProcess, port: number) {
  const deadline = performance.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`mariadbd exited (${child.exitCode ?? child.signalCode})`);
    }
    try {
      const probe = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
      await probe.end();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

/** A database of its own on a server, for one test file; disposing it drops it. */
export interface MysqlTestDatabase extends AsyncDisposable {
  readonly url: string;
}

/** Creates a uniquely named database on the server `serverUrl` points at. */
export async function createMysqlTestDatabase(serverUrl: string): Promise<MysqlTestDatabase> {
  const name = `trpc_idempotency_${randomBytes(6).toString('hex')}`;
  const admin = async (statement: string) => {
    const connection = await mysql.createConnection({ uri: serverUrl });
    try {
      await connection.query(statement);
    } finally {
      await connection.end();
    }
  };
  await admin(`CREATE DATABASE \`${name}\``);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    [Symbol.asyncDispose]: () => admin(`DROP DATABASE IF EXISTS \`${name}\``),
  };
}

/** A mysql2 pool as a Drizzle database. */
export type MysqlTestDb = MySql2Database<Record<string, never>> & { $client: mysql.Pool };

/** Options of a test pool: its size, and whether one query may hold several statements. */
export interface MysqlPoolOptions {
  connectionLimit?: number;
  multipleStatements?: boolean;
}

/**
 * One migrated database for this test file, on the run's shared server (see
 * `mariadb.globalSetup.ts`) or, without it, on a server of the file's own.
 * `connect()` opens a pool on it (one per simulated server process); pools
 * still open, the database and the server are closed, dropped and stopped
 * after the file, even when a test or the setup failed.
 */
export function useMysqlDatabase() {
  let server: MysqlServer | undefined;
  let database: MysqlTestDatabase | undefined;
  const pools: mysql.Pool[] = [];

  const connect = (opts: MysqlPoolOptions = {}): MysqlTestDb => {
    if (!database) throw new Error('useMysqlDatabase: connect() before beforeAll ran');
    const pool = mysql.createPool({
      uri: database.url,
      connectionLimit: opts.connectionLimit ?? 10,
      multipleStatements: opts.multipleStatements ?? false,
    });
    pools.push(pool);
    return drizzle({ client: pool });
  };

  beforeAll(async () => {
    let serverUrl = inject('mysqlUrl');
    if (!serverUrl) {
      server = await startMysql();
      serverUrl = server.url;
    }
    database = await createMysqlTestDatabase(serverUrl);
    await migrateMysqlIdempotencyStore(connect({ connectionLimit: 1 }));
  });

  afterAll(async () => {
    try {
      await Promise.all(pools.splice(0).map((pool) => pool.end().catch(() => {})));
      await database?.[Symbol.asyncDispose]();
    } finally {
      await server?.[Symbol.asyncDispose]();
    }
  });

  /** The database's URL, for code that opens its own connections (the CLI). */
  const url = () => {
    if (!database) throw new Error('useMysqlDatabase: url() before beforeAll ran');
    return database.url;
  };

  return { connect, url };
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
