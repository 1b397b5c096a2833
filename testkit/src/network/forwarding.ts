import {
  type Agent,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';

// They describe one connection, so a proxy must not pass them on.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'proxy-connection',
  'upgrade',
]);

/** `headers` without the hop-by-hop ones: what a proxy passes on. */
export function endToEndHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !HOP_BY_HOP.has(name)));
}

/**
 * Starts sending `req` on to `target`: its method, path and end-to-end
 * headers, with `target`'s host. The body is the caller's to pipe or write.
 */
export function forwardRequest(
  opts: { target: URL; req: IncomingMessage; agent: Agent },
  onResponse: (response: IncomingMessage) => void,
): ClientRequest {
  const { target, req } = opts;
  return request(
    {
      protocol: target.protocol,
      hostname: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: { ...endToEndHeaders(req.headers), host: target.host },
      agent: opts.agent,
    },
    onResponse,
  );
}

/**
 * Makes `server` listen on a loopback port (0: a free one) and resolves once
 * it does. `close()` stops it and cuts the connections still open; calling it
 * again returns the same promise.
 */
export async function listenOnLoopback(server: Server, port = 0) {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    /** `http://127.0.0.1:<port>`. */
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
