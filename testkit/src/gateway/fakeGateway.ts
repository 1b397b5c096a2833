import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from '../network/forwarding';

/** One request the gateway received. */
export interface GatewayCall {
  /** The request's path, e.g. `/payouts`. */
  path: string;
  /** Its `Idempotency-Key` header; undefined when it sent none. */
  downstreamKey: string | undefined;
  amount: number;
  /** The JSON body as sent. */
  body: Record<string, unknown>;
  /** The caller's pid, from a `User-Agent` such as `ledger-server (pid 1234)`. */
  pid: number | undefined;
  /** The payment it was answered with. */
  paymentId: string;
  /** True when its key had paid before: this call moved no money. */
  repeated: boolean;
  /** When it arrived (`Date.now()`). */
  at: number;
}

/** A payment the gateway made: money that really moved. */
export interface GatewayPayment {
  id: string;
  path: string;
  amount: number;
  /** The key it was made under; undefined for a call without one. */
  downstreamKey: string | undefined;
}

/** Options of {@link startFakeGateway}. */
export interface FakeGatewayOptions {
  /** Default 0: a free port. */
  port?: number;
  /** Payment ids are `<prefix>_1`, `<prefix>_2`, …. Default `gp`. */
  idPrefix?: string;
}

/**
 * A fake external payment (payout) gateway on a loopback port, as the
 * example server's `payouts.create` and the reliability suite's lease server
 * call it: `POST /<anything>` with a JSON body holding a positive integer
 * `amount`. Like Stripe it is not idempotent by itself, only per key: a
 * request without an `Idempotency-Key` header always pays; the first request
 * with a key pays, and every later one with that key is a no-op answered with
 * the first payment (a repeated key with another amount or path is refused
 * with 422, and pays nothing). Answers `200 { id, amount, status: 'paid' }`.
 *
 * It records every call (`calls`) and every payment (`payments`), so a test
 * counts calls per key and per payment. `onCall` runs after a call is
 * recorded and paid, before it is answered: a test kills or freezes the
 * caller there, after the external effect. `failNext(n)` answers the next `n`
 * requests with a 503 that pays nothing. `await using` closes it.
 */
export async function startFakeGateway(opts: FakeGatewayOptions = {}) {
  const calls: GatewayCall[] = [];
  const payments: GatewayPayment[] = [];
  const byKey = new Map<string, GatewayPayment>();
  const prefix = opts.idPrefix ?? 'gp';
  let onCall: ((call: GatewayCall) => Promise<void> | void) | undefined;
  let failing = 0;

  function pay(req: IncomingMessage, text: string) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return { status: 400, answer: { error: 'the body must be JSON' } };
    }
    const amount = (body as { amount?: unknown } | null)?.amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) {
      return { status: 400, answer: { error: 'amount must be a positive integer' } };
    }
    const path = new URL(req.url ?? '/', 'http://gateway').pathname;
    const header = req.headers['idempotency-key'];
    const downstreamKey = typeof header === 'string' && header !== '' ? header : undefined;
    let payment = downstreamKey === undefined ? undefined : byKey.get(downstreamKey);
    if (payment && (payment.amount !== amount || payment.path !== path)) {
      return {
        status: 422,
        answer: { error: 'this Idempotency-Key was used with another amount or path' },
      };
    }
    const repeated = payment !== undefined;
    if (!payment) {
      payment = { id: `${prefix}_${payments.length + 1}`, path, amount, downstreamKey };
      payments.push(payment);
      if (downstreamKey !== undefined) byKey.set(downstreamKey, payment);
    }
    const pid = /\(pid (\d+)\)/.exec(req.headers['user-agent'] ?? '')?.[1];
    const call: GatewayCall = {
      path,
      downstreamKey,
      amount,
      body: body as Record<string, unknown>,
      pid: pid === undefined ? undefined : Number(pid),
      paymentId: payment.id,
      repeated,
      at: Date.now(),
    };
    calls.push(call);
    return { status: 200, answer: { id: payment.id, amount, status: 'paid' }, call };
  }

  function respond(res: ServerResponse, status: number, answer: unknown) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer));
  }

  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
    });
    req.on('end', async () => {
      if (req.method !== 'POST') return respond(res, 405, { error: 'POST only' });
      if (failing > 0) {
        failing--;
        return respond(res, 503, { error: 'unavailable (failNext)' });
      }
      const { status, answer, call } = pay(req, text);
      if (call) await onCall?.(call);
      respond(res, status, answer);
    });
  });
  const { url, port, close } = await listenOnLoopback(server, opts.port);

  return {
    /** The base URL, `http://127.0.0.1:<port>`: the server's `PAYOUT_GATEWAY_URL`. */
    url,
    port,
    /** Every request that paid, or repeated a key that had paid, in arrival order. */
    calls,
    /** Every payment made, in order: the money that really moved. */
    payments,
    /** The calls made with `downstreamKey`. */
    callsFor: (downstreamKey: string) =>
      calls.filter((call) => call.downstreamKey === downstreamKey),
    /** The payment with this id. */
    payment: (id: string) => payments.find((payment) => payment.id === id),
    /** Runs after each call is recorded (and paid), before its answer; `undefined` to stop. */
    onCall(hook: ((call: GatewayCall) => Promise<void> | void) | undefined) {
      onCall = hook;
    },
    /** The next `count` requests get a 503 and pay nothing. */
    failNext(count: number) {
      failing = count;
    },
    /** Stops listening (connections are refused from now on); the records stay. */
    close,
    async [Symbol.asyncDispose]() {
      await close();
    },
  };
}

/** A gateway from {@link startFakeGateway}. */
export type FakeGateway = Awaited<ReturnType<typeof startFakeGateway>>;
