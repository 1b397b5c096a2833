import { Agent, createServer } from 'node:http';
import { seededRandom } from '../random';
import { endToEndHeaders, forwardRequest, listenOnLoopback } from './forwarding';

/** Options of {@link startLatencyProxy}. */
export interface LatencyProxyOptions {
  /** The origin to forward to, e.g. a {@link startFaultProxy} URL. */
  target: string;
  /** Share of requests delayed before forwarding, and of responses delayed, in [0, 1]. */
  rate: number;
  maxDelayMs: number;
  seed: number;
}

/**
 * A proxy on a loopback port that delays traffic at a seeded random rate:
 * a delayed request waits before it is forwarded, a delayed response waits
 * before it is passed back (the server has already done the work). Delays up
 * to `maxDelayMs` exceed a client's attempt timeout when it is shorter, so the
 * client retries while its first attempt is still on its way: a concurrent
 * duplicate. A failure upstream (a reset, a dropped response) is passed on as
 * a dropped connection. The fault proxy has no delay fault: chain this one in
 * front of it. `await using` closes it.
 */
export async function startLatencyProxy(opts: LatencyProxyOptions) {
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
    const drop = () => {
      stats.dropped++;
      res.destroy();
    };

    const forward = (body: Buffer) => {
      const upstream = forwardRequest({ target, req, agent }, (upstreamRes) => {
        const chunks: Buffer[] = [];
        upstreamRes.on('data', (chunk: Buffer) => chunks.push(chunk));
        upstreamRes.on('error', drop);
        upstreamRes.on('end', () => {
          setTimeout(
            () => {
              if (res.destroyed) return;
              res.writeHead(upstreamRes.statusCode ?? 502, endToEndHeaders(upstreamRes.headers));
              res.end(Buffer.concat(chunks));
            },
            delayResponse ? responseDelay : 0,
          );
        });
      });
      upstream.on('error', drop);
      upstream.end(body);
    };

    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      setTimeout(() => forward(Buffer.concat(chunks)), delayRequest ? requestDelay : 0);
    });
  });
  const listening = await listenOnLoopback(server);
  const close = async () => {
    await listening.close();
    agent.destroy();
  };
  return { url: listening.url, stats, close, [Symbol.asyncDispose]: close };
}

/** A running proxy from {@link startLatencyProxy}. */
export type LatencyProxy = Awaited<ReturnType<typeof startLatencyProxy>>;
