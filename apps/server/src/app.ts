import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { type InFlightOptions, idempotencyResponseHeaders } from 'trpc-idempotency';
import { defaultDatabaseUrl, openDatabase } from './database';
import { createLedger } from './ledger';
import { type Logger, silentLogger } from './logger';
import { createContext, createLedgerRouter, type HandlerTracker } from './router';

/** Options of {@link createLedgerApp}. */
export interface LedgerAppOptions {
  /** `file:PATH` or a path (SQLite), or `postgres://…`. Default `data/ledger.db` at the repository root. */
  databaseUrl?: string;
  /** How long SQLite waits for another process's write lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Default: silent. */
  logger?: Logger;
  /** Fault hook: `transfers.create` pauses this long between its checks and its commit. Default 0. */
  transferDelayMs?: number;
  /** How a duplicate waits for a key in progress in another process (library defaults otherwise). */
  inFlight?: InFlightOptions;
  /** How long `close()` waits for in-flight requests before cutting connections. Default 10 s. */
  shutdownTimeoutMs?: number;
  /** Largest request body in bytes. Default 1 MiB. */
  maxBodySize?: number;
}

/** What `close()` reports. */
export interface CloseResult {
  /** True when requests were still running at the shutdown deadline and were cut off. */
  forced: boolean;
}

/**
 * The ledger server, assembled but not listening: the database is open and
 * migrated. `listen()` serves tRPC at `/trpc`; `close()` stops accepting
 * connections, lets in-flight requests finish, then closes the database.
 */
export function createLedgerApp(opts: LedgerAppOptions = {}) {
  const logger = opts.logger ?? silentLogger;
  const database = openDatabase(opts.databaseUrl ?? defaultDatabaseUrl(), {
    busyTimeoutMs: opts.busyTimeoutMs,
  });
  const ledger = createLedger({ db: database.db });
  const handlers = createHandlerTracker();
  const router = createLedgerRouter({
    ledger,
    store: database.store,
    logger,
    tracker: handlers,
    transferDelayMs: opts.transferDelayMs ?? 0,
    inFlight: opts.inFlight ?? {},
  });

  const trpcHandler = createHTTPHandler({
    router,
    basePath: '/trpc/',
    createContext,
    maxBodySize: opts.maxBodySize ?? 1024 * 1024,
    responseMeta: ({ errors }) => ({ headers: idempotencyResponseHeaders({ errors }) }),
    onError({ error, path }) {
      const fields = { path, code: error.code, message: error.message };
      if (getHTTPStatusCodeFromError(error) >= 500) {
        logger.error('failed', { ...fields, stack: error.cause?.stack ?? error.stack });
      } else {
        logger.debug('rejected', fields);
      }
    },
  });

  let closing: Promise<CloseResult> | undefined;
  const unanswered = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
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
    database.close();
    return { forced };
  }

  return {
    router,
    server,
    database,
    ledger,
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

/** A ledger app from {@link createLedgerApp}. */
export type LedgerApp = ReturnType<typeof createLedgerApp>;

function createHandlerTracker(): HandlerTracker & { drained(): Promise<void> } {
  let running = 0;
  let waiters: Array<() => void> = [];
  return {
    enter() {
      running++;
    },
    leave() {
      running--;
      if (running > 0) return;
      for (const wake of waiters) wake();
      waiters = [];
    },
    drained() {
      if (running === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
  };
}
