import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InFlightOptions } from 'trpc-idempotency';
import { DEFAULT_MAX_BATCH_SIZE } from './config';
import {
  DatabaseUrlError,
  databaseKind,
  defaultDatabaseUrl,
  type OpenDatabase,
  openDatabase,
  sqlitePath,
} from './database';
import { createRequestDispatcher } from './http/dispatch';
import { type CloseResult, shutdown } from './http/shutdown';
import { createLedgerTrpcHandler } from './http/trpcHandler';
import { type Logger, silentLogger } from './logger';
import { createMetrics, createRouteLabeler, databaseGauges } from './metrics';
import { httpPayoutGateway } from './payoutGateway';
import { PAYOUT_PAUSE_POINTS, type PayoutPausePoint, payoutPauses } from './payouts';
import type { PgDriverName } from './pg/database';
import { createProcedureTracker } from './procedureTracker';
import { createLedgerRouter } from './router';
import type { OpenSqliteDatabase } from './sqlite/database';
import { openSqliteDatabase } from './sqlite/database';
import { createWebApp, type WebAppOptions } from './webApp';

/** Options of {@link createLedgerApp}. */
export interface LedgerAppOptions {
  /**
   * `file:PATH` or a path (SQLite), or `postgres://…` / `postgresql://…`
   * (Postgres, with {@link openLedgerApp} only). Default `data/ledger.db` at the repository root.
   */
  databaseUrl?: string;
  /** How long SQLite waits for another process's write lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Postgres: connections in the pool (one per execution in flight). Default 10. */
  poolSize?: number;
  /** Postgres: how long a transfer waits for its accounts' row locks, in ms. Default 5000. */
  pgLockTimeoutMs?: number;
  /** Postgres: the driver, node-postgres (default) or postgres.js. */
  pgDriver?: PgDriverName;
  /** Default: silent. */
  logger?: Logger;
  /** Fault hook: `transfers.create` pauses this long between its checks and its commit. Default 0. */
  transferDelayMs?: number;
  /** How a duplicate waits for a key in progress in another process (library defaults otherwise). */
  inFlight?: InFlightOptions;
  /** How long an execution owns its key before a retry may take it over, in ms. Library default (30 s). */
  leaseMs?: number;
  /** How long a completed key is replayed, in ms; at least `leaseMs`. Library default (24 hours). */
  ttlMs?: number;
  /**
   * How long a completed key stays bound, in ms: a tombstone between `ttlMs`
   * and it (a retry answers `IDEMPOTENCY_OUTCOME_EXPIRED`). At least `ttlMs`.
   * Library default (30 days, or `ttlMs` if longer).
   */
  horizonMs?: number;
  /**
   * The most calls one HTTP batch may carry; a larger batch gets a 400 ("Batch
   * call exceeds maximum size") before any of its calls runs. Default 100.
   */
  maxBatchSize?: number;
  /** How long `close()` waits for in-flight requests before cutting connections. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Largest request body in bytes. Default 1 MiB. */
  maxBodySize?: number;
  /** The web app served at `/` (and its flaky API at `/flaky/trpc`). Default: the built `apps/web`. */
  web?: WebAppOptions;
  /** The payout gateway's base URL. Without it, `payouts.create` answers 501. */
  payoutGatewayUrl?: string | undefined;
  /** How long a payout waits for the gateway's answer, in ms. Default 10 s. */
  payoutGatewayTimeoutMs?: number;
  /** Fault hook: `payouts.create` pauses this long at each of `payoutDelayAt`. Default 0. */
  payoutDelayMs?: number;
  /** Where the payout fault hook pauses. Default: every point. */
  payoutDelayAt?: readonly PayoutPausePoint[];
}

export type { CloseResult };

/**
 * The ledger server on SQLite, assembled but not listening: the database is
 * open and migrated (synchronously, like better-sqlite3). `listen()` serves
 * tRPC at `/trpc` and the metrics at `/metrics`; `close()` stops accepting
 * connections, lets in-flight requests finish, then closes the database.
 * For Postgres, use {@link openLedgerApp}.
 */
export function createLedgerApp(opts: LedgerAppOptions = {}): LedgerApp<OpenSqliteDatabase> {
  const url = opts.databaseUrl ?? defaultDatabaseUrl();
  if (databaseKind(url) !== 'sqlite') {
    throw new DatabaseUrlError(
      'createLedgerApp opens SQLite only (synchronously); for a postgres:// URL use `await openLedgerApp(opts)`',
    );
  }
  return assembleLedgerApp(
    openSqliteDatabase(sqlitePath(url), { busyTimeoutMs: opts.busyTimeoutMs }),
    opts,
  );
}

/**
 * The ledger server on any database `databaseUrl` names, SQLite or Postgres,
 * once it is open and migrated; otherwise as {@link createLedgerApp}.
 */
export async function openLedgerApp(opts: LedgerAppOptions = {}): Promise<LedgerApp> {
  const logger = opts.logger ?? silentLogger;
  const database = await openDatabase(opts.databaseUrl ?? defaultDatabaseUrl(), {
    busyTimeoutMs: opts.busyTimeoutMs,
    poolSize: opts.poolSize,
    lockTimeoutMs: opts.pgLockTimeoutMs,
    pgDriver: opts.pgDriver,
    onPoolError: (error) => logger.warn('database connection failed', { message: error.message }),
  });
  return assembleLedgerApp(database, opts);
}

/**
 * Puts the server together on an open database: the router with its ledger,
 * store, payout gateway and fault hooks; tRPC's HTTP handler; the web app;
 * the metrics; the request dispatch and the graceful stop (`http/`).
 */
function assembleLedgerApp<TDatabase extends OpenDatabase>(
  database: TDatabase,
  opts: LedgerAppOptions,
) {
  const logger = opts.logger ?? silentLogger;
  const { ledger } = database;
  const procedures = createProcedureTracker();
  const metrics = createMetrics({ gauges: [procedures.gauge, ...databaseGauges(database)] });
  const router = createLedgerRouter({
    ledger,
    store: database.store,
    logger,
    metrics,
    tracker: procedures,
    transferDelayMs: opts.transferDelayMs ?? 0,
    inFlight: opts.inFlight ?? {},
    leaseMs: opts.leaseMs,
    ttlMs: opts.ttlMs,
    horizonMs: opts.horizonMs,
    payoutGateway: opts.payoutGatewayUrl
      ? httpPayoutGateway({
          url: opts.payoutGatewayUrl,
          timeoutMs: opts.payoutGatewayTimeoutMs ?? 10_000,
        })
      : undefined,
    payoutPause: payoutPauses({
      delayMs: opts.payoutDelayMs ?? 0,
      at: opts.payoutDelayAt ?? PAYOUT_PAUSE_POINTS,
      log: (fields) => logger.info('payout paused', fields),
    }),
  });

  const web = createWebApp(opts.web);
  let closing: Promise<CloseResult> | undefined;
  const unanswered = new Set<ServerResponse>();
  const server = createServer(
    createRequestDispatcher({
      trpcHandler: createLedgerTrpcHandler({
        router,
        logger,
        maxBodySize: opts.maxBodySize ?? 1024 * 1024,
        maxBatchSize: opts.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE,
      }),
      web,
      metrics,
      logger,
      routeOf: createRouteLabeler(Object.keys(router._def.procedures)),
      unanswered,
      closing: () => closing !== undefined,
    }),
  );

  return {
    router,
    server,
    database,
    ledger,
    metrics,
    web,
    /** Starts serving; resolves with the tRPC base URL once the port is bound. */
    listen(listenOpts: { port: number; host: string }) {
      return new Promise<{ url: string; port: number }>((resolve, reject) => {
        server.once('error', reject);
        server.listen(listenOpts.port, listenOpts.host, () => {
          server.off('error', reject);
          const { port, address, family } = server.address() as AddressInfo;
          const host = family === 'IPv6' ? `[${address}]` : address;
          resolve({ url: `http://${host}:${port}/trpc`, port });
        });
      });
    },
    /** Graceful stop; calling it again returns the same promise. */
    close(): Promise<CloseResult> {
      closing ??= shutdown({
        server,
        unanswered,
        drained: () => procedures.drained(),
        closeWeb: () => web.close(),
        closeDatabase: () => database.close(),
        timeoutMs: opts.shutdownTimeoutMs ?? 10_000,
      });
      return closing;
    },
  };
}

/** A ledger app from {@link createLedgerApp} or {@link openLedgerApp}. */
export type LedgerApp<TDatabase extends OpenDatabase = OpenDatabase> = ReturnType<
  typeof assembleLedgerApp<TDatabase>
>;
