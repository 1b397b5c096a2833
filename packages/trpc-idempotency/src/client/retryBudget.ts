/**
 * One retry budget (SPEC 7.11): the link retries a call within its attempts
 * and deadline, then marks the error it gives up with. TanStack Query's
 * `idempotentRetry` reads the mark and adds no retries of its own: its
 * attempts would each start the link's budget again (5 × 6 requests, where
 * the user asked for at most 5). Browser-safe, imports nothing.
 * @see README.md#one-retry-budget
 */

/** On the error object itself, under a `Symbol.for` key: two copies of this package agree. */
const SPENT = Symbol.for('trpc-idempotency.retryBudgetSpent');

/** What the link tells of the call an error ended. */
export interface SpentRetryBudget {
  /** The key every attempt carried. */
  idempotencyKey: string;
  /** Requests the link sent for the call. */
  attempts: number;
}

/** Marks `error` as the end of a call whose retries the link already made. */
export function markRetryBudgetSpent(error: unknown, spent: SpentRetryBudget) {
  if (typeof error === 'object' && error !== null && Object.isExtensible(error)) {
    Object.defineProperty(error, SPENT, { value: spent, configurable: true });
  }
}

/** The link's mark on `error`, if a link retried its call. */
export function retryBudgetSpent(error: unknown): SpentRetryBudget | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  return (error as { [SPENT]?: SpentRetryBudget })[SPENT];
}

/**
 * True when `idempotencyLink` already retried the call `err` ended, within
 * its attempts and deadline: an outer retrier (tRPC's `retryLink`, your own
 * code) should not start that budget again.
 * @example
 * ```ts
 * retryLink({ retry: ({ error, attempts }) => !retriedByIdempotencyLink(error) && attempts < 3 })
 * ```
 * @see README.md#one-retry-budget
 */
export function retriedByIdempotencyLink(err: unknown): boolean {
  return retryBudgetSpent(err) !== undefined;
}
