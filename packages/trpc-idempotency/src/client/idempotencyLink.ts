import { type Operation, TRPCClientError, type TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter as AnyRouter } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { IdempotentProcedures } from '../shared/idempotentInput';
import { randomKey } from '../shared/randomKey';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';
import { getRetryAfterMs, isRetryableError } from './errors';

/**
 * What {@link IdempotencyLinkOptions.onRetry} is told before each retry.
 * @see README.md#the-client-link
 */
export interface IdempotencyRetryInfo<TRouter extends AnyRouter = AnyRouter> {
  /** The attempt about to start: 2 for the first retry. */
  attempt: number;
  /** How long the link waits before that attempt, in ms. */
  delayMs: number;
  /** The error of the attempt that just failed. */
  error: TRPCClientError<TRouter>;
  /** The operation as sent, its input carrying the key. */
  op: Operation;
  /** The key every attempt of this call carries. */
  idempotencyKey: string;
}

/**
 * The options of {@link idempotencyLink}.
 * @see README.md#the-client-link
 */
export interface IdempotencyLinkOptions<TRouter extends AnyRouter = AnyRouter> {
  /**
   * The router's idempotent mutations, each path mapped to `true`: only these
   * get a key and retries. Every other call passes through as if the link
   * were absent. Typed from the router: a path missing or unknown is a
   * type error (see {@link IdempotentProcedures}).
   */
  procedures: IdempotentProcedures<TRouter>;
  /** Makes the key of one logical call. Default: a random UUID v4 from `crypto`. */
  generateKey?: (op: Operation) => string;
  /** Attempts per call, the first included. Default 5. */
  maxAttempts?: number;
  /**
   * No attempt starts, and no wait ends, later than this many ms after the first
   * attempt started. An attempt in flight is not cut short: the call's `signal`
   * does that. Default 30 000.
   */
  deadlineMs?: number;
  /** Upper bound of the first retry's jittered wait, doubled for each further retry, in ms. Default 100. */
  baseDelayMs?: number;
  /** Upper bound of any jittered wait, in ms. Default 5000. */
  maxDelayMs?: number;
  /** Draws the jitter: a number from 0 to 1. Default `Math.random`. */
  random?: () => number;
  /** Called before each retry's wait. */
  onRetry?: (info: IdempotencyRetryInfo<TRouter>) => void;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/**
 * The input to send on every attempt and the key it carries. `undefined` when
 * the input cannot carry a key (a primitive, `FormData`, a non-string key):
 * such a call is passed on untouched, and never retried, since only the key
 * makes a retried mutation safe.
 */
function withIdempotencyKey(
  input: unknown,
  makeKey: () => string,
): { input: unknown; key: string } | undefined {
  if (input === undefined) {
    const key = makeKey();
    return { input: { [IDEMPOTENCY_KEY_FIELD]: key }, key };
  }
  if (!isPlainObject(input)) return undefined;
  const explicit = input[IDEMPOTENCY_KEY_FIELD];
  if (typeof explicit === 'string') return { input, key: explicit };
  if (explicit !== undefined) return undefined;
  const key = makeKey();
  return { input: { ...input, [IDEMPOTENCY_KEY_FIELD]: key }, key };
}

function abortError<TRouter extends AnyRouter>(signal: AbortSignal): TRPCClientError<TRouter> {
  const reason: unknown = signal.reason;
  return TRPCClientError.from<TRouter>(
    reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError'),
  );
}

/**
 * The set of paths the link touches, checked once: a JavaScript caller (or
 * a cast) can pass anything, and a missing set must not mean "every mutation".
 */
function procedurePaths(procedures: unknown): ReadonlySet<string> {
  if (typeof procedures !== 'object' || procedures === null || Array.isArray(procedures)) {
    throw new TypeError(
      "idempotencyLink: `procedures` must list the router's idempotent mutations, e.g. { 'transfers.create': true }",
    );
  }
  for (const [path, value] of Object.entries(procedures)) {
    if (value !== true) {
      throw new TypeError(
        `idempotencyLink: procedures[${JSON.stringify(path)}] must be true, got ${String(value)}`,
      );
    }
  }
  return new Set(Object.keys(procedures));
}

/**
 * Adds an `idempotencyKey` to the input of each call of an idempotent
 * mutation (those in `opts.procedures`), one per logical call, and retries the
 * call with that same key on network failures, 5xx, `TIMEOUT`,
 * `TOO_MANY_REQUESTS` and an in-progress `CONFLICT`, with exponential backoff
 * and full jitter. A key the caller passes is kept. Every other call passes
 * through untouched: no key, no retry. Put it before the terminating link.
 * @example
 * ```ts
 * createTRPCClient<AppRouter>({
 *   links: [
 *     idempotencyLink({ procedures: { 'accounts.open': true, 'transfers.create': true } }),
 *     httpBatchLink({ url }),
 *   ],
 * });
 * ```
 * @see README.md#the-client-link
 */
export function idempotencyLink<TRouter extends AnyRouter = AnyRouter>(
  opts: IdempotencyLinkOptions<TRouter>,
): TRPCLink<TRouter> {
  const idempotent = procedurePaths((opts as { procedures?: unknown } | undefined)?.procedures);
  const maxAttempts = opts.maxAttempts ?? 5;
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const baseDelayMs = opts.baseDelayMs ?? 100;
  const maxDelayMs = opts.maxDelayMs ?? 5000;
  const random = opts.random ?? Math.random;

  return () =>
    ({ op, next }) => {
      if (op.type !== 'mutation' || !idempotent.has(op.path)) return next(op);
      const keyed = withIdempotencyKey(op.input, () =>
        opts.generateKey ? opts.generateKey(op) : randomKey(),
      );
      if (!keyed) return next(op);
      const idempotencyKey = keyed.key;
      const attemptOp: Operation = { ...op, input: keyed.input };
      const signal = op.signal;

      return observable((observer) => {
        const deadline = performance.now() + deadlineMs;
        let attempt = 0;
        let disposed = false;
        let inFlight: Unsubscribable | undefined;
        let sleep: ReturnType<typeof setTimeout> | undefined;

        /** The wait before the next attempt, or `undefined` to give up with `error`. */
        function retryDelay(error: TRPCClientError<TRouter>): number | undefined {
          if (signal?.aborted || attempt >= maxAttempts || !isRetryableError(error)) {
            return undefined;
          }
          const remaining = deadline - performance.now();
          const jitterCap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1), remaining);
          const delayMs = Math.max(getRetryAfterMs(error) ?? 0, random() * jitterCap);
          // Waiting only to find the deadline passed would just delay the same error.
          return delayMs < remaining ? delayMs : undefined;
        }

        function onAbort() {
          if (sleep === undefined) return;
          clearTimeout(sleep);
          sleep = undefined;
          observer.error(abortError<TRouter>(signal!));
        }

        function start() {
          sleep = undefined;
          attempt++;
          let ended = false;
          const subscription = next(attemptOp).subscribe({
            next(envelope) {
              observer.next(envelope);
            },
            complete() {
              ended = true;
              observer.complete();
            },
            error(error) {
              ended = true;
              inFlight = undefined;
              const delayMs = retryDelay(error);
              if (delayMs === undefined) {
                observer.error(error);
                return;
              }
              try {
                opts.onRetry?.({
                  attempt: attempt + 1,
                  delayMs,
                  error,
                  op: attemptOp,
                  idempotencyKey,
                });
              } catch (cause) {
                observer.error(TRPCClientError.from<TRouter>(cause as Error));
                return;
              }
              // The hook may have unsubscribed.
              if (disposed) return;
              sleep = setTimeout(() => {
                if (performance.now() < deadline) start();
                else observer.error(error);
              }, delayMs);
            },
          });
          if (!ended) inFlight = subscription;
        }

        signal?.addEventListener('abort', onAbort);
        start();
        return () => {
          disposed = true;
          signal?.removeEventListener('abort', onAbort);
          clearTimeout(sleep);
          inFlight?.unsubscribe();
        };
      });
    };
}
