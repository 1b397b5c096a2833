import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A running {@link file://./hranaServer.ts} process: its URL, stopped on dispose. */
export interface HranaServerProcess extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`, for `createClient({ url })`. */
  url: string;
  /** The same database as `libsql://…?tls=0`, the scheme Turso's URLs use. */
  libsqlUrl: string;
}

/**
 * Starts the Hrana test server (a stand-in for sqld, which npm does not
 * ship) on `file`, a SQLite file, in a process of its own, on a free
 * loopback port.
 */
export async function startHranaServer(file: string): Promise<HranaServerProcess> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'hranaServer.ts'), file],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const [port] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the Hrana test server exited with code ${code}`);
    }),
  ])) as [string];
  return {
    url: `http://127.0.0.1:${port}`,
    libsqlUrl: `libsql://127.0.0.1:${port}?tls=0`,
    async [Symbol.asyncDispose]() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
