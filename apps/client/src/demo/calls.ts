import { randomUUID } from 'node:crypto';
import {
  type Answer,
  answerOfClientError,
  type SettledCall,
  seededRandom,
  type TransferInput,
} from '@ledger/testkit';
import { TRPCClientError } from '@trpc/client';
import { isRetryableError } from 'trpc-idempotency/client';
import { createLedgerClient, type LedgerClient } from '../ledgerClient';

/** The caller identity of every demo call. */
const USER = 'demo';

/**
 * The demo's two ways to the server: through the faulty proxy with the
 * retrying client, and straight to it. A call whose retries run out has an
 * unknown outcome; calling again with the same key, straight to the server,
 * settles it: it executes if it never did, or answers what it did.
 */
export function createDemoCalls(opts: { proxyUrl: string; serverUrl: string; seed: number }) {
  const retriesByKey = new Map<string, number>();
  const faulty = createLedgerClient({
    url: opts.proxyUrl,
    user: USER,
    batch: false,
    retry: {
      maxAttempts: 8,
      baseDelayMs: 10,
      maxDelayMs: 200,
      deadlineMs: 15_000,
      random: seededRandom(opts.seed),
    },
    onRetry: ({ idempotencyKey }) =>
      retriesByKey.set(idempotencyKey, (retriesByKey.get(idempotencyKey) ?? 0) + 1),
  });
  const direct = createLedgerClient({ url: opts.serverUrl, user: USER, batch: false });
  let calls = 0;
  let settledLater = 0;

  /** Calls `mutate` with a fresh key through the proxy; settles it straight to the server if need be. */
  async function call<T>(
    mutate: (client: LedgerClient, idempotencyKey: string) => Promise<T>,
    key = randomUUID(),
  ): Promise<T> {
    calls++;
    try {
      return await mutate(faulty, key);
    } catch (error) {
      if (!isRetryableError(error)) throw error;
      settledLater++;
      return mutate(direct, key);
    }
  }

  return {
    call,
    /**
     * A transfer, as the checks read it: its answer, or the refusal the
     * server gave. Anything else (the server kept failing) is thrown.
     */
    async transfer(input: TransferInput): Promise<SettledCall<TransferInput>> {
      const key = randomUUID();
      let final: Answer;
      try {
        const transfer = await call(
          (client, idempotencyKey) => client.transfers.create.mutate({ idempotencyKey, ...input }),
          key,
        );
        final = { status: 200, kind: 'result', body: JSON.stringify(transfer) };
      } catch (error) {
        if (!(error instanceof TRPCClientError) || isRetryableError(error)) throw error;
        final = answerOfClientError(error);
      }
      const successes = final.kind === 'result' ? [final.body] : [];
      return { user: USER, key, path: 'transfers.create', input, record: { final, successes } };
    },
    /** The calls so far: how many, how many needed retries and how many attempts they made in all. */
    figures() {
      const retries = [...retriesByKey.values()].reduce((sum, n) => sum + n, 0);
      return { calls, callsRetried: retriesByKey.size, attempts: calls + retries, settledLater };
    },
  };
}
