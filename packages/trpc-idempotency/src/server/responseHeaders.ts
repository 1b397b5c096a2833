/**
 * The HTTP response headers of idempotent requests: `Idempotent-Replayed`
 * on a replayed response, `Retry-After` on an in-progress conflict,
 * `Idempotency-Horizon-Ms` on every response that carried an idempotent
 * call. tRPC's
 * adapters set headers through their `responseMeta` option, which sees the
 * request's context; the builder records there, per call, whether the call
 * was replayed.
 * @see README.md#response-headers
 */
import type { TRPCError } from '@trpc/server';
import { IDEMPOTENCY_SHOULD_RETRY_HEADER } from '../shared/reasons';
import { getIdempotencyErrorData, isUnfixableByRetry } from './errors';

/**
 * The context field that carries a request's replay record. A symbol, so it
 * cannot collide with the app's own fields; `Symbol.for`, so two copies of
 * this package (ESM and CommonJS) share it.
 */
const RESPONSE_RECORD = Symbol.for('trpc-idempotency.response');

/**
 * Per call of one HTTP request (by its index in the batch): whether it was
 * replayed; and the smallest horizon of its idempotent calls.
 */
interface ResponseRecord {
  replayedByCall: Map<number, boolean>;
  horizonMs: number | undefined;
}

/**
 * What {@link idempotencyResponseContext} adds to a request's context.
 * @see README.md#response-headers
 */
export interface IdempotencyResponseContext {
  readonly [RESPONSE_RECORD]: ResponseRecord;
}

/**
 * Spread into the context your `createContext` makes for each request, so
 * {@link idempotencyResponseHeaders} can tell replayed responses apart.
 * Call it once per request: a context shared between requests would mix
 * their calls up.
 *
 * ```ts
 * createContext: ({ req }) => ({ userId: userIdOf(req), ...idempotencyResponseContext() }),
 * ```
 * @see README.md#response-headers
 */
export function idempotencyResponseContext(): IdempotencyResponseContext {
  return { [RESPONSE_RECORD]: { replayedByCall: new Map(), horizonMs: undefined } };
}

function recordOf(ctx: unknown): ResponseRecord | undefined {
  if (typeof ctx !== 'object' || ctx === null || !(RESPONSE_RECORD in ctx)) return undefined;
  return (ctx as IdempotencyResponseContext)[RESPONSE_RECORD];
}

/**
 * Notes whether call `batchIndex` of the request whose context is `ctx` was
 * replayed. Middlewares that add to the context keep the record: tRPC merges
 * their additions into a copy of the context, which carries the same record.
 */
export function recordReplay(ctx: unknown, batchIndex: number, replayed: boolean) {
  recordOf(ctx)?.replayedByCall.set(batchIndex, replayed);
}

/**
 * Notes that the request whose context is `ctx` carried an idempotent call
 * whose builder's horizon is `horizonMs`: called as soon as the call reaches
 * the idempotency step, whatever its answer turns out to be.
 */
export function recordHorizon(ctx: unknown, horizonMs: number) {
  const record = recordOf(ctx);
  if (record) record.horizonMs = Math.min(record.horizonMs ?? horizonMs, horizonMs);
}

/** The parts of tRPC's `responseMeta` options the headers depend on. */
export interface IdempotencyResponseMetaOptions {
  /** The errors the calls threw. */
  errors: readonly TRPCError[];
  /** The request's context, if it was made; it carries the replay record. */
  ctx?: unknown;
  /** The request's calls, if it could be parsed. */
  info?: { calls: readonly unknown[] } | undefined;
  /** `true` when tRPC asks for headers before the calls have run (streamed responses). */
  eagerGeneration?: boolean;
}

/**
 * `responseMeta` helper for tRPC's HTTP adapters. Pass it tRPC's options whole:
 *
 * - `Idempotent-Replayed: true` when every call of the request was answered
 *   from a stored outcome (result or error) instead of executing now. A batch
 *   in which any call executed, or was not an idempotent call, gets no header
 *   (nothing to mark for a response that is not a replay as a whole), and
 *   neither does a streamed response, whose headers go out before its calls
 *   run. Needs {@link idempotencyResponseContext} in the context.
 * - `Retry-After` (whole seconds, rounded up) when a call answered an
 *   in-progress conflict: the longest of their `retryAfterMs`.
 * - `Idempotency-Horizon-Ms` when the request carried an idempotent call:
 *   how long after completing an operation its key stays bound (the
 *   smallest of the calls' builders' `horizonMs`), so clients never resend
 *   an operation older than it. Not on a streamed response.
 *   Needs {@link idempotencyResponseContext} in the context.
 * - `Idempotency-Should-Retry: false` when every error of the response is
 *   one no retry can fix (a bug in the handler, a constraint violation; see
 *   `isUnfixableByRetry`): the client link and TanStack Query stop at once.
 *
 * ```ts
 * responseMeta: (opts) => ({ headers: idempotencyResponseHeaders(opts) }),
 * ```
 * @see README.md#response-headers
 */
export function idempotencyResponseHeaders(
  opts: IdempotencyResponseMetaOptions,
): Record<string, string> | undefined {
  let headers: Record<string, string> | undefined;
  let retryAfterMs: number | undefined;
  let horizonMs = recordOf(opts.ctx)?.horizonMs;
  for (const error of opts.errors) {
    const data = getIdempotencyErrorData(error);
    if (data?.retryAfterMs !== undefined) {
      retryAfterMs = Math.max(retryAfterMs ?? 0, data.retryAfterMs);
    }
    if (data?.horizonMs !== undefined)
      horizonMs = Math.min(horizonMs ?? data.horizonMs, data.horizonMs);
  }
  if (retryAfterMs !== undefined) {
    headers = { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) };
  }
  if (isReplayAsAWhole(opts)) headers = { ...headers, 'idempotent-replayed': 'true' };
  if (horizonMs !== undefined && !opts.eagerGeneration) {
    headers = { ...headers, 'idempotency-horizon-ms': String(Math.floor(horizonMs)) };
  }
  if (opts.errors.length > 0 && opts.errors.every(isUnfixableByRetry)) {
    headers = { ...headers, [IDEMPOTENCY_SHOULD_RETRY_HEADER.toLowerCase()]: 'false' };
  }
  return headers;
}

function isReplayAsAWhole(opts: IdempotencyResponseMetaOptions) {
  const replayed = recordOf(opts.ctx)?.replayedByCall;
  const calls = opts.info?.calls.length ?? 0;
  if (!replayed || opts.eagerGeneration || calls === 0) return false;
  for (let index = 0; index < calls; index++) {
    if (replayed.get(index) !== true) return false;
  }
  return true;
}
