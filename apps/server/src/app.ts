import type { IncomingMessage } from 'node:http';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { type InFlightOptions, idempotencyResponseHeaders } from 'trpc-idempotency';
import { DEFAULT_MAX_BATCH_SIZE } from './config';
import {
  DatabaseUrlError,
  databaseKind,
  defaultDatabaseUrl,
  type OpenDatabase,
  openDatabase,
  sqlitePath,
} from './database';
import { causesOf, isInternalError, requestIdOf } from './internalError';
import { type Logger, silentLogger } from './logger';
import { createMetrics, type GaugeCollector, METRICS_CONTENT_TYPE, type Metrics } from './metrics';
import { httpPayoutGateway } from './payoutGateway';
import { PAYOUT_PAUSE_POINTS, type PayoutPausePoint, payoutPauses } from './payouts';
import { createContext, createLedgerRouter, type HandlerTracker } from './router';
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

/** What `close()` reports. */
export interface CloseResult {
  /** True when requests were still running at the shutdown deadline and were cut off. */
  forced: boolean;
}

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
    onPoolError: (error) => logger.warn('database connection failed', { message: error.message }),
  });
  return assembleLedgerApp(database, opts);
}

function assembleLedgerApp<TDatabase extends OpenDatabase>(
  database: TDatabase,
  opts: LedgerAppOptions,
) {
  const logger = opts.logger ?? silentLogger;
  const { ledger } = database;
  const handlers = createHandlerTracker();
  const metrics = createMetrics({ gauges: [handlers.gauge, ...databaseGauges(database)] });
  const router = createLedgerRouter({
    ledger,
    store: database.store,
    logger,
    metrics,
    tracker: handlers,
    transferDelayMs: opts.transferDelayMs ?? 0,
    inFlight: opts.inFlight ?? {},
    leaseMs: opts.leaseMs,
    ttlMs: opts.ttlMs,
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
  const routeOf = createRouteNamer(Object.keys(router._def.procedures));

  const trpcHandler = createHTTPHandler({
    router,
    basePath: '/trpc/',
    createContext,
    maxBodySize: opts.maxBodySize ?? 1024 * 1024,
    // Checked on the URL's paths, before the body is parsed, a context is made or any call runs.
    maxBatchSize: opts.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE,
    // `Idempotent-Replayed: true` on a replayed response, `Retry-After` on an in-progress 409.
    responseMeta: (meta) => ({ headers: idempotencyResponseHeaders(meta) }),
    onError({ error, path }) {
      const fields = { path, code: error.code, message: error.message };
      if (getHTTPStatusCodeFromError(error) >= 500) {
        const requestId = isInternalError(error) ? requestIdOf(error) : undefined;
        const causes = causesOf(error);
        logger.error('request failed', {
          ...fields,
          requestId,
          causes,
          stack: error.cause?.stack ?? error.stack,
        });
      } else {
        logger.debug('rejected', fields);
      }
    },
  });

  const web = createWebApp(opts.web);
  let closing: Promise<CloseResult> | undefined;
  const unanswered = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    const target = parseTarget(req.url);
    if (!target) {
      // An unparsable request target (`GET http://[ HTTP/1.1`): `new URL` would throw and end the process.
      res.once('finish', () =>
        metrics.observeRequest({
          method: req.method ?? '',
          route: 'other',
          status: res.statusCode,
        }),
      );
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'bad request target' } }));
      return;
    }
    const { pathname, searchParams } = target;
    const route = routeOf(pathname, searchParams);
    res.once('finish', () =>
      metrics.observeRequest({ method: req.method ?? '', route, status: res.statusCode }),
    );
    if (pathname === '/metrics') {
      serveMetrics(req, res, metrics);
      return;
    }
    if (web.handle(req, res, pathname)) return;
    if (pathname !== '/trpc' && !pathname.startsWith('/trpc/')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { message: `not found: ${pathname}; the API is at /trpc` } }),
      );
      return;
    }
    if (closing) res.setHeader('connection', 'close');
    if (logger.level === 'debug') {
      const arrived = performance.now();
      res.once('finish', () =>
        logger.debug('request', {
          method: req.method,
          url: req.url,
          status: res.statusCode,
          durationMs: Math.round((performance.now() - arrived) * 10) / 10,
        }),
      );
    }
    unanswered.add(res);
    res.once('close', () => unanswered.delete(res));
    trpcHandler(req, res);
  });

  async function shutdown(timeoutMs: number): Promise<CloseResult> {
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
    // Keep-alive connections close after their current response instead of idling.
    for (const res of unanswered) if (!res.headersSent) res.setHeader('connection', 'close');
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<true>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const forced = await Promise.race([
      Promise.all([stopped, handlers.drained()]).then(() => false as const),
      deadline,
    ]);
    clearTimeout(timer);
    if (forced) server.closeAllConnections();
    await web.close();
    // A pool waits for its connections in use; after a forced stop, not for long.
    const closed = database.close();
    await (forced ? Promise.race([closed, sleep(1000)]) : closed);
    return { forced };
  }

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
      closing ??= shutdown(opts.shutdownTimeoutMs ?? 10_000);
      return closing;
    },
  };
}

/** The request's URL, or undefined when it does not parse. */
function parseTarget(url: string | undefined) {
  try {
    return new URL(url ?? '/', 'http://localhost');
  } catch {
    return undefined;
  }
}

/** `GET /metrics`: the Prometheus text exposition. */
function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: Metrics) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: '/metrics answers GET and HEAD only' } }));
    return;
  }
  const body = metrics.render();
  res.writeHead(200, {
    'content-type': METRICS_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * The `route` label of a request: a procedure's path, `batch` for a batch of
 * known procedures, `/metrics`, or `other`. Never the raw URL, which a client
 * chooses freely: the label's values must stay few.
 */
function createRouteNamer(procedures: string[]) {
  const known = new Set(procedures);
  return (pathname: string, searchParams: URLSearchParams) => {
    if (pathname === '/metrics') return '/metrics';
    if (!pathname.startsWith('/trpc/')) return 'other';
    let paths: string[];
    try {
      paths = decodeURIComponent(pathname.slice('/trpc/'.length)).split(',');
    } catch {
      // A malformed escape (`/trpc/%E0`): tRPC answers it; this must not throw, it would end the process.
      return 'other';
    }
    if (!paths.every((path) => known.has(path))) return 'other';
    return searchParams.get('batch') === '1' ? 'batch' : paths[0]!;
  };
}

/** Postgres: the pool's connections in use and idle, and requests waiting for one. */
function databaseGauges(database: OpenDatabase): GaugeCollector[] {
  if (database.kind !== 'postgres') return [];
  const pool = database.db.$client;
  return [
    {
      name: 'db_pool_connections',
      help: 'Postgres connections of this process by state; one is in use per execution in flight.',
      collect: () => [
        { labels: { state: 'in_use' }, value: pool.totalCount - pool.idleCount },
        { labels: { state: 'idle' }, value: pool.idleCount },
      ],
    },
    {
      name: 'db_pool_waiting_requests',
      help: 'Requests of this process waiting for a free Postgres connection: above 0 for long, the pool is too small.',
      collect: () => [{ labels: {}, value: pool.waitingCount }],
    },
  ];
}

/** A ledger app from {@link createLedgerApp} or {@link openLedgerApp}. */
export type LedgerApp<TDatabase extends OpenDatabase = OpenDatabase> = ReturnType<
  typeof assembleLedgerApp<TDatabase>
>;

function createHandlerTracker(): HandlerTracker & {
  drained(): Promise<void>;
  gauge: GaugeCollector;
} {
  let running = 0;
  const byPath = new Map<string, number>();
  let waiters: Array<() => void> = [];
  return {
    enter(path) {
      running++;
      byPath.set(path, (byPath.get(path) ?? 0) + 1);
    },
    leave(path) {
      running--;
      byPath.set(path, (byPath.get(path) ?? 1) - 1);
      if (running > 0) return;
      for (const wake of waiters) wake();
      waiters = [];
    },
    drained() {
      if (running === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    // Paths are the router's own (unknown paths never reach a procedure), so the label stays bounded.
    gauge: {
      name: 'trpc_procedures_in_flight',
      help: 'Procedure calls of this process running now, by path: a transfer counts from its input check to its answer.',
      collect: () => [...byPath].map(([path, value]) => ({ labels: { path }, value })),
    },
  };
}
