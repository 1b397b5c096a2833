/** What `payouts.create` asks of the external payout gateway. */
export interface PayoutGatewayRequest {
  /**
   * Sent as the `Idempotency-Key` header: the gateway makes one payout per
   * key, and answers a repeated key with that payout instead of paying again.
   */
  downstreamKey: string;
  accountId: string;
  amount: number;
}

/** The gateway's payout. */
export interface PayoutGatewayAnswer {
  gatewayPayoutId: string;
}

/**
 * The external payout gateway: not idempotent by itself, only per key, so a
 * payout's key must be the same on every attempt (`downstreamKey('pay')`).
 */
export interface PayoutGateway {
  pay(request: PayoutGatewayRequest): Promise<PayoutGatewayAnswer>;
}

/**
 * The gateway failed or could not be reached: whether it paid is unknown, so
 * the payout must be asked again with the same key. `message` says what
 * happened without naming the gateway's address; `cause` has the details.
 */
export class PayoutGatewayError extends Error {
  override readonly name = 'PayoutGatewayError';
}

/**
 * The payout gateway at `url`, over HTTP: `POST <url>/payouts` with the JSON
 * body `{ accountId, amount }` and the headers `Idempotency-Key` and
 * `User-Agent: ledger-server (pid <pid>)`; a 2xx answer is JSON with the
 * payout's `id`. Anything else — no connection, no answer within `timeoutMs`,
 * another status, an answer without an id — is a {@link PayoutGatewayError}.
 */
export function httpPayoutGateway(opts: { url: string; timeoutMs: number }): PayoutGateway {
  const endpoint = `${opts.url.replace(/\/+$/, '')}/payouts`;
  const userAgent = `ledger-server (pid ${process.pid})`;
  return {
    async pay(request) {
      let response: Response;
      try {
        response = await fetch(endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': request.downstreamKey,
            'user-agent': userAgent,
          },
          body: JSON.stringify({ accountId: request.accountId, amount: request.amount }),
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      } catch (cause) {
        const timedOut = (cause as Error).name === 'TimeoutError';
        throw new PayoutGatewayError(
          timedOut
            ? `the payout gateway did not answer within ${opts.timeoutMs} ms`
            : 'the payout gateway could not be reached',
          { cause },
        );
      }
      const text = await response.text().catch(() => '');
      if (!response.ok) {
        throw new PayoutGatewayError(`the payout gateway answered ${response.status}`, {
          cause: new Error(text.slice(0, 500)),
        });
      }
      let id: unknown;
      try {
        id = (JSON.parse(text) as { id?: unknown } | null)?.id;
      } catch {
        id = undefined;
      }
      if (typeof id !== 'string' || id === '') {
        throw new PayoutGatewayError('the payout gateway answered without a payout id', {
          cause: new Error(text.slice(0, 500)),
        });
      }
      return { gatewayPayoutId: id };
    },
  };
}
