import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One charge request the gateway received. */
export interface GatewayCall {
  downstreamKey: string;
  amount: number;
  /** The idempotency attempt of the execution that called. */
  attempt: number;
  /** The calling server process. */
  pid: number;
  /** The charge it was answered with. */
  chargeId: string;
}

/**
 * A fake payment gateway on a loopback port that records every charge request
 * and, like Stripe, deduplicates by the caller's key: the same `downstreamKey`
 * always gets the same charge, and moves money once. `onCharge` runs before
 * each answer (a test kills or freezes the caller there: mid-handler, after the
 * external effect). `await using` closes it.
 */
export async function startFakeGateway() {
  const calls: GatewayCall[] = [];
  const charges = new Map<string, { chargeId: string; amount: number }>();
  let onCharge: ((call: GatewayCall) => Promise<void> | void) | undefined;

  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', async () => {
      const request = JSON.parse(body) as Omit<GatewayCall, 'chargeId'>;
      let charge = charges.get(request.downstreamKey);
      if (!charge) {
        charge = { chargeId: `ch_${charges.size + 1}`, amount: request.amount };
        charges.set(request.downstreamKey, charge);
      }
      const call = { ...request, chargeId: charge.chargeId };
      calls.push(call);
      await onCharge?.(call);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(charge));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    /** Distinct charges by downstream key: the money that really moved. */
    charges,
    /** Runs before each answer; `undefined` to stop. */
    onCharge(hook: ((call: GatewayCall) => Promise<void> | void) | undefined) {
      onCharge = hook;
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
