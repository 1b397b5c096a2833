import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger';
import { type createRouteLabeler, type Metrics, serveMetrics } from '../metrics';
import type { WebApp } from '../webApp';

/**
 * Answers one HTTP request of the ledger server: `/metrics`, the web app's
 * files and `/flaky/trpc/…`, the API at `/trpc/…` (handed to tRPC), 404 for
 * anything else, 400 for a request target that does not parse. Every answer
 * is counted by route; at `debug`, each API request is logged.
 */
export function createRequestDispatcher(opts: {
  trpcHandler: (req: IncomingMessage, res: ServerResponse) => void;
  web: WebApp;
  metrics: Metrics;
  logger: Logger;
  routeOf: ReturnType<typeof createRouteLabeler>;
  /** The API responses not answered yet: a shutdown asks them to close their connections. */
  unanswered: Set<ServerResponse>;
  /** True once the server is stopping: API responses then close their connections. */
  closing: () => boolean;
}) {
  const { metrics, logger } = opts;
  const counted = (req: IncomingMessage, res: ServerResponse, route: string) =>
    res.once('finish', () =>
      metrics.observeRequest({ method: req.method ?? '', route, status: res.statusCode }),
    );

  return (req: IncomingMessage, res: ServerResponse) => {
    const target = parseTarget(req.url);
    if (!target) {
      // An unparsable request target (`GET http://[ HTTP/1.1`): `new URL` would throw and end the process.
      counted(req, res, 'other');
      answerJson(res, 400, 'bad request target');
      return;
    }
    const { pathname, searchParams } = target;
    counted(req, res, opts.routeOf(pathname, searchParams));
    if (pathname === '/metrics') {
      void serveMetrics(req, res, metrics);
      return;
    }
    if (opts.web.handle(req, res, pathname)) return;
    if (pathname !== '/trpc' && !pathname.startsWith('/trpc/')) {
      answerJson(res, 404, `not found: ${pathname}; the API is at /trpc`);
      return;
    }
    if (opts.closing()) res.setHeader('connection', 'close');
    if (logger.level === 'debug') logRequest(logger, req, res);
    opts.unanswered.add(res);
    res.once('close', () => opts.unanswered.delete(res));
    opts.trpcHandler(req, res);
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

function answerJson(res: ServerResponse, status: number, message: string) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { message } }));
}

/** One `debug` line per API request, once answered. */
function logRequest(logger: Logger, req: IncomingMessage, res: ServerResponse) {
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
