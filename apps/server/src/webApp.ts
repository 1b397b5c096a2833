import { createReadStream, existsSync, statSync } from 'node:fs';
import { type IncomingMessage, request, type ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  endToEndHeaders,
  type FaultProxy,
  type FaultProxyOptions,
  startFaultProxy,
} from '@ledger/testkit';

/** Options of {@link createWebApp}. */
export interface WebAppOptions {
  /** The built web app: `index.html` and `assets/`. Default `apps/web/dist` in the repository. */
  root?: string;
  /**
   * How `/flaky/…` fails: the fault proxy's plan (the CLI demo's proxy,
   * mounted in front of this server). Default: 40% of mutations get one of
   * its faults, drawn from a seed picked at start.
   */
  flaky?: Omit<FaultProxyOptions, 'target'>;
}

/** Where `pnpm --filter @ledger/web build` puts the web app. */
export function defaultWebRoot() {
  return fileURLToPath(new URL('../../web/dist', import.meta.url));
}

/** Where the "flaky network" switch sends the app's API calls: the same API, through the fault proxy. */
export const FLAKY_PREFIX = '/flaky';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The web client of the ledger, served beside the API: its files at `/`, and
 * `/flaky/trpc/…`, the API behind the fault proxy the CLI demo uses, so a
 * person can watch retries land exactly once. The proxy starts on the first
 * flaky request, aimed at the address that request arrived on.
 */
export function createWebApp(opts: WebAppOptions = {}) {
  const root = resolve(opts.root ?? defaultWebRoot());
  let proxy: Promise<FaultProxy> | undefined;

  function startProxy(req: IncomingMessage) {
    const { localAddress = '127.0.0.1', localPort } = req.socket;
    const host = localAddress.includes(':') ? `[${localAddress}]` : localAddress;
    proxy ??= startFaultProxy({
      faultRate: 0.4,
      seed: Date.now() % 2 ** 31,
      ...opts.flaky,
      target: `http://${host}:${localPort}`,
    });
    return proxy;
  }

  /** `/flaky/trpc/…` through the fault proxy to `/trpc/…`; a fault drops the browser's connection too. */
  async function relayFlaky(req: IncomingMessage, res: ServerResponse) {
    const { url } = await startProxy(req);
    const upstream = request(`${url}${req.url!.slice(FLAKY_PREFIX.length)}`, {
      method: req.method,
      headers: endToEndHeaders(req.headers),
      // A connection of its own per request: one the proxy dropped must not fail the next.
      agent: false,
    });
    upstream.once('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, endToEndHeaders(answer.headers));
      answer.pipe(res);
      answer.once('aborted', () => res.destroy());
    });
    // The proxy reset the connection or dropped the answer: so does the browser's.
    upstream.once('error', () => res.destroy());
    req.pipe(upstream);
  }

  /** Serves the file at `pathname`; false when there is none (the caller answers 404). */
  function serveFile(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
    const file = resolve(
      join(root, pathname === '/' ? 'index.html' : decodeURIComponent(pathname)),
    );
    if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
      if (pathname !== '/') return false;
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(
        `The web app is not built (no ${join(root, 'index.html')}): run pnpm --filter @ledger/web build\n`,
      );
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `${pathname} answers GET and HEAD only` } }));
      return true;
    }
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      // Vite names assets by their content; the page itself must be fetched anew.
      'cache-control': pathname.startsWith('/assets/')
        ? 'public, max-age=31536000, immutable'
        : 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
    return true;
  }

  return {
    root,
    /** Answers `req` if it is the web app's (one of its files, or `/flaky/trpc/…`); false otherwise. */
    handle(req: IncomingMessage, res: ServerResponse, pathname: string): boolean {
      if (pathname.startsWith(`${FLAKY_PREFIX}/trpc/`)) {
        relayFlaky(req, res).catch(() => res.destroy());
        return true;
      }
      if (pathname.startsWith('/trpc') || pathname.startsWith(FLAKY_PREFIX)) return false;
      try {
        return serveFile(req, res, pathname);
      } catch {
        // A malformed escape (`/%E0`): no such file.
        return false;
      }
    },
    /** What the fault proxy did so far (undefined before the first flaky request). */
    async flakyStats() {
      return proxy ? (await proxy).stats : undefined;
    },
    async close() {
      if (proxy) await (await proxy).close();
    },
  };
}

/** The web app of a ledger server. */
export type WebApp = ReturnType<typeof createWebApp>;
