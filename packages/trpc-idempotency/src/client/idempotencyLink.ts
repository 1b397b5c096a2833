import { type Operation, TRPCClientError, type TRPCLink } from '@trpc/client';
import type { AnyTRPCRouter as AnyRouter } from '@trpc/server';
import { observable, type Unsubscribable } from '@trpc/server/observable';
import type { IdempotentProcedures } from '../shared/idempotentInput';
import { randomKey } from '../shared/randomKey';
import { IDEMPOTENCY_HORIZON_HEADER, IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';
import { learnServerHorizon } from '../shared/retention';
import { getHorizonMs, getRetryAfterMs, isRetryableError } from './errors';
import { markRetryBudgetSpent } from './retryBudget';

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
   * type error (see {@link IdempotentProcedures}). Without a router type
   * (a link declared apart from `createTRPCClient<AppRouter>` and without
   * `idempotencyLink<AppRouter>`), nothing could be checked: a type error too.
   */
  procedures: [TRouter] extends [never]
    ? // No object of paths satisfies this; the type error quotes its one key.
      {
        'idempotencyLink needs your router type to check these paths: write idempotencyLink<AppRouter>({ … }), or create it inside createTRPCClient<AppRouter>({ links: [ … ] })': never;
      }
    : IdempotentProcedures<TRouter>;
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

/**
 * How many calls' keys the link remembers by operation id, for links that
 * repeat an operation (`retryLink`). A call is repeated while it runs, so
 * only recent ids matter; the oldest are forgotten first.
 */
const REMEMBERED_CALLS = 1000;

/**
 * The key of each recent call, by its operation id (unique per client, kept by
 * a link that repeats the operation or copies it): tRPC's `retryLink` placed
 * before this link calls `next(op)` again for each of its retries, and each
 * must carry the key the first attempt carried.
 */
function callKeys(generate: (op: Operation) => string) {
  const byOpId = new Map<number, string>();
  return (op: Operation) => {
    const known = byOpId.get(op.id);
    if (known !== undefined) return known;
    const key = generate(op);
    byOpId.set(op.id, key);
    if (byOpId.size > REMEMBERED_CALLS) byOpId.delete(byOpId.keys().next().value!);
    return key;
  };
}

/** The `Response` an HTTP link put in a result's context, if any. */
function responseOf(context: unknown): { headers?: { get?: unknown } } | undefined {
  const response = (context as { response?: unknown } | undefined)?.response;
  return typeof response === 'object' && response !== null ? response : undefined;
}

/** Notes the server's horizon (README.md#retention-on-the-client) from a result's response. */
function learnHorizonFromResult(context: unknown) {
  const headers = responseOf(context)?.headers;
  if (typeof headers?.get !== 'function') return;
  const value: unknown = (headers.get as (name: string) => unknown).call(
    headers,
    IDEMPOTENCY_HORIZON_HEADER,
  );
  if (typeof value === 'string' && /^\d+$/.test(value.trim())) {
    const horizonMs = Number(value);
    if (Number.isSafeInteger(horizonMs)) learnServerHorizon(horizonMs);
  }
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
 *
 * A key belongs to the call, whoever repeats it: a link that calls `next(op)`
 * again for the same operation (tRPC's `retryLink`, before or after this one)
 * gets the same key. The error a call ends with is marked, so TanStack
 * Query's `idempotentRetry` and `retriedByIdempotencyLink` do not start the
 * budget (`maxAttempts`, `deadlineMs`) again. The server's horizon
 * (`Idempotency-Horizon-Ms`) is noted for the pending operations.
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
export function idempotencyLink<TRouter extends AnyRouter = never>(
  opts: IdempotencyLinkOptions<TRouter>,
): TRPCLink<TRouter> {
  const idempotent = procedurePaths((opts as { procedures?: unknown } | undefined)?.procedures);
  const maxAttempts = opts.maxAttempts ?? 5;
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const baseDelayMs = opts.baseDelayMs ?? 100;
  const maxDelayMs = opts.maxDelayMs ?? 5000;
  const random = opts.random ?? Math.random;

  return () => {
    const keyOf = callKeys((op) => (opts.generateKey ? opts.generateKey(op) : randomKey()));
    return ({ op, next }) => {
      if (op.type !== 'mutation' || !idempotent.has(op.path)) return next(op);
      const keyed = withIdempotencyKey(op.input, () => keyOf(op));
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

        /** Ends the call with `error`, marked: its retries are made (one budget, README.md#one-retry-budget). */
        function giveUp(error: TRPCClientError<TRouter>) {
          markRetryBudgetSpent(error, { idempotencyKey, attempts: attempt });
          observer.error(error);
        }

        function onAbort() {
          if (sleep === undefined) return;
          clearTimeout(sleep);
          sleep = undefined;
          giveUp(abortError<TRouter>(signal!));
        }

        function start() {
          sleep = undefined;
          attempt++;
          let ended = false;
          const subscription = next(attemptOp).subscribe({
            next(envelope) {
              learnHorizonFromResult(envelope.context);
              observer.next(envelope);
            },
            complete() {
              ended = true;
              observer.complete();
            },
            error(error) {
              ended = true;
              inFlight = undefined;
              const horizonMs = getHorizonMs(error);
              if (horizonMs !== undefined) learnServerHorizon(horizonMs);
              const delayMs = retryDelay(error);
              if (delayMs === undefined) {
                giveUp(error);
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
                giveUp(TRPCClientError.from<TRouter>(cause as Error));
                return;
              }
              // The hook may have unsubscribed.
              if (disposed) return;
              sleep = setTimeout(() => {
                if (performance.now() < deadline) start();
                else giveUp(error);
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
  };
}
