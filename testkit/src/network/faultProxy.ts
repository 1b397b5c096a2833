import { Agent, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { seededRandom } from '../random';
import { endToEndHeaders, forwardRequest, listenOnLoopback } from './forwarding';

/**
 * What the proxy does to a request instead of passing it through:
 * - `lostResponse`: forwards it, lets the server answer in full, then drops the
 *   client's connection: the operation happened, the client cannot know;
 * - `reset`: resets the client's connection before forwarding: nothing happened;
 * - `badGateway`: answers 502 with an HTML page, as a proxy does, without forwarding.
 */
export type FaultKind = 'lostResponse' | 'reset' | 'badGateway';

/** Every {@link FaultKind}. */
export const FAULT_KINDS: readonly FaultKind[] = ['lostResponse', 'reset', 'badGateway'];

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** The server's origin, e.g. `http://127.0.0.1:3000`. Paths are kept as they are. */
  target: string;
  /** Share of eligible requests that get a fault, in [0, 1]. Default 0. */
  faultRate?: number;
  /** Seed of the fault draws: the same seed gives the same sequence of decisions. Default 1. */
  seed?: number;
  /** Which faults to draw from, evenly. Default all of {@link FAULT_KINDS}. */
  kinds?: readonly FaultKind[];
  /** Which requests may get a fault. Default: POSTs (tRPC mutations); queries pass untouched. */
  eligible?: (req: IncomingMessage) => boolean;
  /**
   * Decides instead of the random draw, by the eligible request's number
   * (0, 1, 2, …): a fault, or `undefined` to forward. For scripted tests.
   */
  decide?: (requestNumber: number) => FaultKind | undefined;
}

/** What the proxy did so far. */
export interface FaultProxyStats {
  /** Requests received. */
  requests: number;
  /** Requests the server got (including the `lostResponse` ones). */
  forwarded: number;
  faults: Record<FaultKind, number>;
}

const BAD_GATEWAY_PAGE =
  '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>';

/** A 502 with an HTML page, as a proxy answers when it cannot reach the server. */
function answerBadGateway(res: ServerResponse) {
  res.writeHead(502, { 'content-type': 'text/html', connection: 'close' });
  res.end(BAD_GATEWAY_PAGE);
}

/**
 * An HTTP proxy on a free loopback port that injects network faults between a
 * client and the ledger server, at a seeded random rate. `await using` closes it.
 *
 * ```ts
 * await using proxy = await startFaultProxy({ target: 'http://127.0.0.1:3000', faultRate: 0.2, seed: 7 });
 * createLedgerClient({ url: `${proxy.url}/trpc` });
 * ```
 */
export async function startFaultProxy(opts: FaultProxyOptions) {
  const target = new URL(opts.target);
  const faultRate = opts.faultRate ?? 0;
  if (!(faultRate >= 0 && faultRate <= 1)) {
    throw new RangeError(`faultRate must be in [0, 1]; got ${faultRate}`);
  }
  const kinds = opts.kinds ?? FAULT_KINDS;
  if (kinds.length === 0) throw new RangeError('kinds must name at least one fault');
  const random = seededRandom(opts.seed ?? 1);
  const eligible = opts.eligible ?? ((req: IncomingMessage) => req.method === 'POST');
  const decide =
    opts.decide ??
    (() => {
      // Two draws per request whatever the outcome, so decisions depend only on the seed and count.
      const hit = random() < faultRate;
      const kind = kinds[Math.floor(random() * kinds.length)]!;
      return hit ? kind : undefined;
    });

  const stats: FaultProxyStats = {
    requests: 0,
    forwarded: 0,
    faults: { lostResponse: 0, reset: 0, badGateway: 0 },
  };
  let eligibleCount = 0;
  const agent = new Agent({ keepAlive: true });

  const server = createServer((req, res) => {
    stats.requests++;
    const fault = eligible(req) ? decide(eligibleCount++) : undefined;
    if (fault) stats.faults[fault]++;

    if (fault === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (fault === 'badGateway') {
      req.resume();
      answerBadGateway(res);
      return;
    }

    stats.forwarded++;
    const upstream = forwardRequest({ target, req, agent }, (upstreamRes) => {
      if (fault === 'lostResponse') {
        // Read the whole answer, so the server's work is done, then drop the client.
        upstreamRes.resume();
        upstreamRes.once('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(upstreamRes.statusCode ?? 502, endToEndHeaders(upstreamRes.headers));
      upstreamRes.pipe(res);
    });
    upstream.once('error', () => {
      // The server is unreachable: answer as a proxy would.
      if (res.headersSent) res.destroy();
      else answerBadGateway(res);
    });
    req.pipe(upstream);
  });

  const listening = await listenOnLoopback(server);
  async function close() {
    await listening.close();
    agent.destroy();
  }

  return {
    /** The proxy's origin, `http://127.0.0.1:<port>`: the target's paths work under it. */
    url: listening.url,
    port: listening.port,
    stats,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A running proxy from {@link startFaultProxy}. */
export type FaultProxy = Awaited<ReturnType<typeof startFaultProxy>>;
