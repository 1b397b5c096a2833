import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** One JSON line the server logged. */
export interface LogLine {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** Options of {@link startLedgerServer}. */
export interface StartLedgerServerOptions {
  /**
   * Extra environment for the server (`LEDGER_TRANSFER_DELAY_MS`,
   * `IDEMPOTENCY_WAIT_MS`, …). `PORT` defaults to 0 (a free port) and
   * `LOG_LEVEL` to info: the helper reads the `listening` line.
   */
  env?: Record<string, string>;
  /**
   * A SQLite file to use, e.g. another server's `databaseFile` to run two
   * processes on one database. Default: a fresh file in a temp folder that
   * is removed on dispose.
   */
  databaseFile?: string;
  /**
   * Any `DATABASE_URL`, e.g. a `postgres://…` database several processes
   * share. Takes the place of `databaseFile`, which is then empty.
   */
  databaseUrl?: string;
  /** How long to wait for the `listening` line. Default 30 s. */
  startTimeoutMs?: number;
}

/** How the server process ended. */
export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const serverDir = fileURLToPath(new URL('../..', import.meta.url));
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Spawns the real ledger server (`src/main.ts` through tsx) on a free port
 * with its own SQLite file (or on `databaseUrl`), and resolves once it listens. `await using`
 * kills it (if still running) and removes its temp folder.
 *
 * ```ts
 * await using server = await startLedgerServer({ env: { LEDGER_TRANSFER_DELAY_MS: '500' } });
 * const response = await server.mutate('accounts.open', { idempotencyKey, owner: 'Ann', initialBalance: 10 });
 * ```
 */
export async function startLedgerServer(opts: StartLedgerServerOptions = {}) {
  const ownFile = !opts.databaseUrl && !opts.databaseFile;
  const tempDir = ownFile ? mkdtempSync(join(tmpdir(), 'ledger-server-')) : undefined;
  const databaseFile = opts.databaseUrl ? '' : (opts.databaseFile ?? join(tempDir!, 'ledger.db'));
  const databaseUrl = opts.databaseUrl ?? `file:${databaseFile}`;
  const removeTemp = () => {
    if (tempDir) rmSync(tempDir, { recursive: true, force: true });
  };

  const child = spawn(
    process.execPath,
    ['--conditions=@trpc-idempotency/source', '--import', 'tsx', 'src/main.ts'],
    {
      cwd: serverDir,
      env: {
        ...process.env,
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl,
        ...opts.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A crashed test run must not leave servers behind.
    process.once('exit', () => {
      for (const each of running) each.kill('SIGKILL');
    });
  }

  const logs: LogLine[] = [];
  const lines = new EventEmitter();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { time: new Date().toISOString(), level: 'raw', msg: text };
    }
    logs.push(line);
    lines.emit('line', line);
  });
  // `close`, not `exit`: by then stdout is drained, so `logs` holds every line.
  const exited = new Promise<ServerExit>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  /** Resolves with the first logged line (past or future) that `match` accepts. */
  function waitForLog(match: (line: LogLine) => boolean, timeoutMs = 30_000) {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const onLine = (line: LogLine) => {
        if (!match(line)) return;
        cleanup();
        resolve(line);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching server log line within ${timeoutMs} ms\n${describe()}`));
      }, timeoutMs);
      exited.then(() => {
        cleanup();
        reject(new Error(`the server exited before a matching log line\n${describe()}`));
      });
      const cleanup = () => {
        clearTimeout(timer);
        lines.off('line', onLine);
      };
      lines.on('line', onLine);
    });
  }

  function describe() {
    const tail = logs.slice(-20).map((line) => JSON.stringify(line));
    return `stdout (last lines):\n${tail.join('\n')}\nstderr:\n${stderr}`;
  }

  let listening: LogLine;
  try {
    listening = await waitForLog((line) => line.msg === 'listening', opts.startTimeoutMs ?? 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    removeTemp();
    throw error;
  }
  const url = String(listening['url']);
  const port = Number(new URL(url).port);

  return {
    /** The tRPC base URL, `http://127.0.0.1:<port>/trpc`. */
    url,
    port,
    pid: child.pid!,
    /** The SQLite file; empty when started with `databaseUrl`. */
    databaseFile,
    /** The `DATABASE_URL` the process runs on. */
    databaseUrl,
    /** Every line logged so far, parsed. */
    logs,
    waitForLog,
    /** Resolves when the process has exited. */
    exited,
    stderr: () => stderr,
    /** Sends `signal` and resolves with how the process ended. */
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    /** POST a mutation as any HTTP client would: JSON body, `x-user-id` unless `user` is null. */
    mutate(path: string, input: unknown, call: { user?: string | null } = {}) {
      const user = call.user === undefined ? 'alice' : call.user;
      return fetch(`${url}/${path}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(user === null ? {} : { 'x-user-id': user }),
        },
        body: JSON.stringify(input),
      });
    },
    /** GET a query with its input URL-encoded. */
    query(path: string, input: unknown) {
      return fetch(`${url}/${path}?input=${encodeURIComponent(JSON.stringify(input))}`);
    },
    /** The log lines of idempotency events of type `type`. */
    events(type: string) {
      return logs.filter((line) => line.msg === type);
    },
    async [Symbol.asyncDispose]() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      removeTemp();
    },
  };
}

/** A running server from {@link startLedgerServer}. */
export type LedgerServerProcess = Awaited<ReturnType<typeof startLedgerServer>>;
