import type { MutationOptions } from '@tanstack/react-query';
import { getRetryAfterMs, isRetryableError } from '../client/errors';
import { retryBudgetSpent } from '../client/retryBudget';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';

/** Mutation options of any shape, as `trpc.x.mutationOptions()` returns them. */
// biome-ignore lint/suspicious/noExplicitAny: the wrappers keep the caller's own option types.
export type AnyMutationOptions = MutationOptions<any, any, any, any>;

/** Retries TanStack Query makes of an idempotent mutation by default, after its first attempt. */
export const DEFAULT_RETRIES = 5;

/**
 * TanStack Query's `retry` for an idempotent mutation, one retry budget with
 * the link's (SPEC 7.11): an error `idempotencyLink` gave up with is not
 * retried, since the link already spent the call's attempts and deadline.
 * Without the link, it retries, with the same variables and so the same key,
 * what is safe to retry — network failures, 5xx, `TIMEOUT`,
 * `TOO_MANY_REQUESTS`, an in-progress `CONFLICT` — up to
 * {@link DEFAULT_RETRIES} times. Never a failure the server marked as not
 * worth retrying.
 * @see README.md#one-retry-budget
 */
export function idempotentRetry(failureCount: number, error: unknown): boolean {
  if (retryBudgetSpent(error)) return false;
  // `failureCount` counts the failures before this one: 0 on the first.
  return failureCount < DEFAULT_RETRIES && isRetryableError(error);
}

/**
 * TanStack Query's `retryDelay` for an idempotent mutation: exponential
 * backoff with full jitter (up to 250 ms, doubled per retry, at most 10 s),
 * and never sooner than the server's retry hint.
 * @see README.md#tanstack-query
 */
export function idempotentRetryDelay(failureCount: number, error: unknown): number {
  const cap = Math.min(10_000, 250 * 2 ** failureCount);
  return Math.max(getRetryAfterMs(error) ?? 0, Math.random() * cap);
}

/** The key an idempotent mutation's variables carry, if any. */
export function getIdempotencyKey(variables: unknown): string | undefined {
  if (typeof variables !== 'object' || variables === null) return undefined;
  const key = (variables as Record<string, unknown>)[IDEMPOTENCY_KEY_FIELD];
  return typeof key === 'string' && key !== '' ? key : undefined;
}

/** Thrown when an idempotent mutation runs without a key in its variables. */
export class MissingIdempotencyKeyError extends Error {
  override readonly name = 'MissingIdempotencyKeyError';
}

/**
 * The key of `variables`, or a loud error that names the procedure: without
 * it, each of TanStack Query's retries would reach the link as a new call and
 * get a new key.
 */
export function requireIdempotencyKey(variables: unknown, mutationKey: unknown): string {
  const key = getIdempotencyKey(variables);
  if (key !== undefined) return key;
  throw new MissingIdempotencyKeyError(
    `${describeMutation(mutationKey)} was called without \`${IDEMPOTENCY_KEY_FIELD}\` in its variables: ` +
      'call it through useIdempotentMutation, or pass a key you keep for the whole operation',
  );
}

/**
 * The procedure a mutation key stands for, in words: tRPC's keys are
 * `[['transfers', 'create'], { type: 'mutation' }]`, shown as
 * `transfers.create`, so the message cannot be read as naming a key.
 */
function describeMutation(mutationKey: unknown): string {
  const path = Array.isArray(mutationKey) ? mutationKey[0] : undefined;
  if (Array.isArray(path) && path.length > 0 && path.every((part) => typeof part === 'string')) {
    return `idempotent mutation \`${path.join('.')}\``;
  }
  return mutationKey === undefined
    ? 'an idempotent mutation (no mutationKey)'
    : `the idempotent mutation with mutationKey ${JSON.stringify(mutationKey)}`;
}

/**
 * Mutation options whose variables must carry `idempotencyKey`: what
 * {@link idempotentMutationOptions} returns, so a call without a key is a type
 * error at `mutate()` rather than a failure at run time.
 */
export type KeyRequiredMutationOptions<TOptions> =
  TOptions extends MutationOptions<
    infer TData,
    infer TError,
    infer TVariables,
    infer TOnMutateResult
  >
    ? Omit<TOptions, keyof MutationOptions> &
        MutationOptions<TData, TError, TVariables & { idempotencyKey: string }, TOnMutateResult>
    : never;

/**
 * Mutation options for an idempotent mutation without persistence: the key
 * must be in the variables (typed as required, and checked before anything is
 * sent), and TanStack Query retries with {@link idempotentRetry} and
 * {@link idempotentRetryDelay} unless the options say otherwise.
 * `usePendingOperations` adds persistence; `useIdempotentMutation` adds the key.
 * @example
 * ```ts
 * const transfer = useMutation(idempotentMutationOptions(trpc.transfers.create.mutationOptions()));
 * transfer.mutate({ ...input, idempotencyKey }); // a key you keep for the whole operation
 * ```
 * @see README.md#tanstack-query
 */
export function idempotentMutationOptions<TOptions extends AnyMutationOptions>(
  options: TOptions,
): KeyRequiredMutationOptions<TOptions> {
  return withIdempotentRetries(options) as unknown as KeyRequiredMutationOptions<TOptions>;
}

/** {@link idempotentMutationOptions} with the caller's own types, for the hooks that add the key. */
export function withIdempotentRetries<TOptions extends AnyMutationOptions>(
  options: TOptions,
): TOptions {
  const onMutate = options.onMutate;
  return {
    retry: idempotentRetry,
    retryDelay: idempotentRetryDelay,
    ...options,
    onMutate(variables, context) {
      requireIdempotencyKey(variables, options.mutationKey);
      return onMutate?.(variables, context);
    },
  };
}
