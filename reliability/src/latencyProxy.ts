import { Agent, createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { seededRandom } from './clientApp';

const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'upgrade'];

function endToEnd(headers: IncomingHttpHeaders) {
  const kept = { ...headers };
  for (const name of HOP_BY_HOP) delete kept[name];
  return kept;
}

/**
 * A proxy on a loopback port that delays traffic at a seeded random rate:
 * a delayed request waits before it is forwarded, a delayed response waits
 * before it is passed back (the server has already done the work). Delays up
 * to `maxDelayMs` exceed a client's attempt timeout when it is shorter, so the
 * client retries while its first attempt is still on its way: a concurrent
 * duplicate. A failure upstream (a reset, a dropped response) is passed on as
 * a dropped connection. The fault-injecting proxy of the client app has no
 * delay fault (yet): this one is chained in front of it.
 */
export async function startLatencyProxy(opts: {
  target: string;
  /** Share of requests delayed before forwarding, and of responses delayed, in [0, 1]. */
  rate: number;
  maxDelayMs: number;
  seed: number;
}) {
  const target = new URL(opts.target);
  const random = seededRandom(opts.seed);
  const agent = new Agent({ keepAlive: true });
  const stats = { requests: 0, delayedRequests: 0, delayedResponses: 0, dropped: 0 };

  const server = createServer((req, res) => {
    stats.requests++;
    // Four draws per request whatever happens, so the decisions depend only on the seed and count.
    const delayRequest = random() < opts.rate;
    const requestDelay = Math.floor(random() * opts.maxDelayMs);
    const delayResponse = random() < opts.rate;
    const responseDelay = Math.floor(random() * opts.maxDelayMs);
    if (delayRequest) stats.delayedRequests++;
    if (delayResponse) stats.delayedResponses++;

    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      setTimeout(
        () => {
          const upstream = request(
            {
              hostname: target.hostname,
              port: target.port,
              method: req.method,
              path: req.url,
              headers: { ...endToEnd(req.headers), host: target.host },
              agent,
            },
            (upstreamRes) => {
              const body: Buffer[] = [];
              upstreamRes.on('data', (chunk: Buffer) => body.push(chunk));
              upstreamRes.on('error', () => {
                stats.dropped++;
                res.destroy();
              });
              upstreamRes.on('end', () => {
                setTimeout(
                  () => {
                    if (res.destroyed) return;
                    res.writeHead(upstreamRes.statusCode ?? 502, endToEnd(upstreamRes.headers));
                    res.end(Buffer.concat(body));
                  },
                  delayResponse ? responseDelay : 0,
                );
              });
            },
          );
          upstream.on('error', () => {
            stats.dropped++;
            res.destroy();
          });
          upstream.end(Buffer.concat(chunks));
        },
        delayRequest ? requestDelay : 0,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const close = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    agent.destroy();
  };
  return { url: `http://127.0.0.1:${port}`, stats, close, [Symbol.asyncDispose]: close };
}
