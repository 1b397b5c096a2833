import {
  type LedgerServerProcess,
  type LedgerSnapshot,
  type LogLine,
  readLedger,
  startLedgerServer,
} from '@ledger/testkit';
import { openAccounts } from './ledgerWorkload';
import { leaseRecoveryEnv } from './serverClock';

/** Options of {@link crashableLedger}. */
export interface CrashableLedgerOptions {
  /** The database every generation runs on: a fresh one (`useFreshDatabases`), SQLite or Postgres. */
  databaseUrl: string;
  /** Environment of every generation (e.g. `LEDGER_TRANSFER_DELAY_MS`, `PAYOUT_GATEWAY_URL`). */
  env?: Record<string, string>;
  /** More environment for generation `n` (0 is the first), over `env`. */
  envOf?: (generation: number) => Record<string, string>;
  /** `IDEMPOTENCY_LEASE_MS` of every generation (lease-mode procedures: payouts). Default 1000. */
  shortLeaseMs?: number;
}

/**
 * The real ledger server process on one database that a test can SIGKILL
 * and start again, on the same port when it can (clients need not follow),
 * else on a new one ({@link CrashableLedger.url} follows it). Each restart is a
 * new generation. Transactional procedures leave nothing behind a kill; a
 * lease-mode one (`payouts.create`) leaves its record in progress, which the
 * next generation takes over soon, as every generation runs with a short lease
 * (see `leaseRecoveryEnv`). `await using` kills every generation still running.
 */
export async function crashableLedger(opts: CrashableLedgerOptions) {
  const { databaseUrl } = opts;
  const generations: LedgerServerProcess[] = [];
  let portChanges = 0;
  // How long each kill left the clients without a server: from the kill to the next generation's readiness.
  const downtimesMs: number[] = [];
  let killedAt: number | undefined;
  // When the running generation became ready; after a kill, the killed one's until the next is.
  let upSince = 0;

  async function start(port: number) {
    return startLedgerServer({
      databaseUrl,
      env: {
        ...opts.env,
        ...opts.envOf?.(generations.length),
        ...leaseRecoveryEnv(opts.shortLeaseMs ?? 1000),
        PORT: String(port),
      },
    });
  }

  const current = () => generations.at(-1)!;
  generations.push(await start(0));
  upSince = performance.now();
  const port = current().port;

  return {
    /** The `DATABASE_URL` every generation runs on. */
    databaseUrl,
    /** What the database holds now, read on connections of its own (the server may be dead). */
    read(): Promise<LedgerSnapshot> {
      return readLedger(databaseUrl);
    },
    /** The tRPC base URL of the running generation. */
    url: () => current().url,
    /** Opens `count` accounts of `balance` (plain HTTP, retried until final); resolves with their ids. */
    openAccounts(accounts: { count: number; balance: number; random: () => number }) {
      return openAccounts({ url: () => current().url, ...accounts });
    },
    /** The running generation. */
    get server() {
      return current();
    },
    get generations() {
      return generations.length;
    },
    /** Restarts that could not get the old port back. */
    get portChanges() {
      return portChanges;
    },
    /**
     * When the server last became ready (a `performance.now()` time): clients give a call
     * their bounds from then (`serverUpSince`), as the kills are the test's, not the server's.
     */
    upSince: () => upSince,
    /** Each kill's downtime so far (kill to the next generation's readiness), in ms. */
    get downtimesMs(): readonly number[] {
      return downtimesMs;
    },
    /** SIGKILL: no shutdown, no cleanup, the process is gone when this resolves. */
    async kill() {
      killedAt = performance.now();
      await current().stop('SIGKILL');
    },
    /**
     * Starts the next generation on the same database, on the same port, or on a new one
     * if another process took it meanwhile. Any other failure to start is the test's failure.
     */
    async restart() {
      try {
        generations.push(await start(port));
      } catch (error) {
        // The server's own words for a taken port ("cannot start: listen EADDRINUSE …").
        if (!String(error).includes('EADDRINUSE')) throw error;
        portChanges++;
        generations.push(await start(0));
      }
      upSince = performance.now();
      if (killedAt !== undefined) downtimesMs.push(Math.round(upSince - killedAt));
      killedAt = undefined;
    },
    /** Every log line of every generation. */
    logs(): LogLine[] {
      return generations.flatMap((generation) => generation.logs);
    },
    /** Idempotency events of `type` across every generation. */
    events(type: string): LogLine[] {
      return generations.flatMap((generation) => generation.events(type));
    },
    async [Symbol.asyncDispose]() {
      for (const generation of generations) await generation[Symbol.asyncDispose]();
    },
  };
}

/** A server from {@link crashableLedger}. */
export type CrashableLedger = Awaited<ReturnType<typeof crashableLedger>>;
