import { answerOfClientError, type CallRecord } from '@ledger/testkit';
import { TRPCClientError } from '@trpc/client';
import { getRetryAfterMs, isRetryableError } from 'trpc-idempotency/client';
import { callBounds } from './callBounds';
import { sleep } from './pool';

/** Options of {@link mutateUntilFinal}. */
export interface MutateUntilFinalOptions<T> {
  /**
   * One call of the typed client (its `idempotencyLink` retries inside it)
   * with the same input and explicit key every time.
   */
  mutate: () => Promise<T>;
  /** What the link told `onRetry` since the last round, to count attempts. */
  takeRetries: () => number;
  random: () => number;
  /** Rounds of the typed client (each up to the link's own attempts), and total time. */
  maxRounds?: number;
  deadlineMs?: number;
  /** For a server the test keeps killing: when it last became ready; the bounds count from then (`callBounds`). */
  serverUpSince?: () => number;
}

/**
 * The typed client's way to a final answer: call it (the link adds retries
 * with the call's key), and when the link's attempts or deadline run out on a
 * retryable error, call again with the same explicit key, as the client app
 * does for a call whose outcome is unknown.
 */
export async function mutateUntilFinal<T>(opts: MutateUntilFinalOptions<T>): Promise<CallRecord> {
  // A round spends the link's attempts at once when the server is away (~1 s): counted like the
  // raw client's attempts, from the call's start or the server's last readiness.
  const bounds = callBounds({
    maxAttempts: opts.maxRounds ?? 40,
    deadlineMs: opts.deadlineMs ?? 60_000,
    serverUpSince: opts.serverUpSince,
  });
  const record: Omit<CallRecord, 'final'> = { attempts: 0, successes: [], retriedFor: {} };
  let last: unknown;
  while (bounds.next()) {
    try {
      const value = await opts.mutate();
      record.attempts += 1 + opts.takeRetries();
      const body = JSON.stringify(value);
      record.successes.push(body);
      return { ...record, final: { status: 200, kind: 'result', body } };
    } catch (error) {
      record.attempts += 1 + opts.takeRetries();
      last = error;
      if (!(error instanceof TRPCClientError)) throw error;
      if (!isRetryableError(error)) return { ...record, final: answerOfClientError(error) };
      record.retriedFor['link gave up'] = (record.retriedFor['link gave up'] ?? 0) + 1;
      await sleep(Math.max(getRetryAfterMs(error) ?? 0, opts.random() * 100));
    }
  }
  throw new Error(
    `no final answer from the typed client after ${bounds.describe('rounds')}: ${String(last)}`,
  );
}
