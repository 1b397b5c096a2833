import { fileURLToPath } from 'node:url';
import { tempSqliteFile } from '../tempFiles';
import { type ProcessExit, spawnLoggedProcess } from './loggedProcess';

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
export type ServerExit = ProcessExit;

/**
 * The example server's folder. The kit sits below the server in the package
 * graph (the server mounts the kit's fault proxy), so it names the server's
 * entry by its place in the repository instead of importing the package.
 */
const serverDir = fileURLToPath(new URL('../../../apps/server/', import.meta.url));

/**
 * Spawns the real ledger server (`apps/server/src/main.ts` through tsx) on a
 * free port with its own SQLite file (or on `databaseUrl`), and resolves once
 * it listens. `await using` kills it (if still running) and removes its temp folder.
 *
 * ```ts
 * await using server = await startLedgerServer({ env: { LEDGER_TRANSFER_DELAY_MS: '500' } });
 * const response = await server.mutate('accounts.open', { idempotencyKey, owner: 'Ann', initialBalance: 10 });
 * ```
 */
export async function startLedgerServer(opts: StartLedgerServerOptions = {}) {
  const temp =
    !opts.databaseUrl && !opts.databaseFile ? tempSqliteFile('ledger-server') : undefined;
  const databaseFile = opts.databaseUrl ? '' : (opts.databaseFile ?? temp!.file);
  const databaseUrl = opts.databaseUrl ?? `file:${databaseFile}`;
  const removeTemp = () => temp?.[Symbol.dispose]();

  let started: Awaited<ReturnType<typeof spawnLoggedProcess>>;
  try {
    started = await spawnLoggedProcess({
      script: 'src/main.ts',
      cwd: serverDir,
      env: {
        HOST: '127.0.0.1',
        PORT: '0',
        LOG_LEVEL: 'info',
        DATABASE_URL: databaseUrl,
        ...opts.env,
      },
      startTimeoutMs: opts.startTimeoutMs,
    });
  } catch (error) {
    removeTemp();
    throw error;
  }
  const { child, logs, waitForLog, exited, url, events } = started;
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
    stderr: started.stderr,
    /** Sends `signal` and resolves with how the process ended. */
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (started.alive()) child.kill(signal);
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
    events,
    async [Symbol.asyncDispose]() {
      if (started.alive()) child.kill('SIGKILL');
      await exited;
      removeTemp();
    },
  };
}

/** A running server from {@link startLedgerServer}. */
export type LedgerServerProcess = Awaited<ReturnType<typeof startLedgerServer>>;
