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
import { type IdempotencyRequestOptions, idempotencyKeyHeader } from './headerKey';

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
  /** The `Idempotency-Key` header of a single-call request, unchecked (README.md#the-idempotency-key-header). */
  headerKey: string | undefined;
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
 * {@link idempotencyResponseHeaders} can tell replayed responses apart and,
 * given `createContext`'s options (`req` and `info`), the `Idempotency-Key`
 * request header supplies the key of a single call whose input has none.
 * Call it once per request: a context shared between requests would mix
 * their calls up.
 *
 * ```ts
 * createContext: (opts) => ({ userId: userIdOf(opts.req), ...idempotencyResponseContext(opts) }),
 * ```
 * @see README.md#response-headers
 * @see README.md#the-idempotency-key-header
 */
export function idempotencyResponseContext(
  request: IdempotencyRequestOptions = {},
): IdempotencyResponseContext {
  return {
    [RESPONSE_RECORD]: {
      replayedByCall: new Map(),
      horizonMs: undefined,
      headerKey: idempotencyKeyHeader(request),
    },
  };
}

function recordOf(ctx: unknown): ResponseRecord | undefined {
  if (typeof ctx !== 'object' || ctx === null || !(RESPONSE_RECORD in ctx)) return undefined;
  return (ctx as IdempotencyResponseContext)[RESPONSE_RECORD];
}

/** The `Idempotency-Key` header the request's context carries, if it was a single call's. */
export function headerKeyOf(ctx: unknown): string | undefined {
  return recordOf(ctx)?.headerKey;
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
  // Made when the first header is set, and filled by assignment: a key added
  // after a spread costs a new hidden class per call (recordRow.ts).
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
    headers = withHeader(
      headers,
      'retry-after',
      String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
    );
  }
  if (isReplayAsAWhole(opts)) {
    headers = withHeader(headers, 'idempotent-replayed', 'true');
  }
  if (horizonMs !== undefined && !isStreamed(opts)) {
    headers = withHeader(headers, 'idempotency-horizon-ms', String(Math.floor(horizonMs)));
  }
  if (opts.errors.length > 0 && opts.errors.every(isUnfixableByRetry)) {
    headers = withHeader(headers, SHOULD_RETRY_HEADER, 'false');
  }
  return headers;
}

const SHOULD_RETRY_HEADER = IDEMPOTENCY_SHOULD_RETRY_HEADER.toLowerCase();

/** `headers` with `name` set, made on the first one: a plain procedure's success has none. */
function withHeader(headers: Record<string, string> | undefined, name: string, value: string) {
  const set = headers ?? {};
  set[name] = value;
  return set;
}

let warnedOfMissingContext = false;

/**
 * Without {@link idempotencyResponseContext} in the context, no call can be
 * marked replayed: say so once in development, where the missing header is
 * otherwise silent. A context that was never made (the request failed
 * before) is not this mistake.
 */
function warnOfMissingContext(ctx: unknown) {
  if (warnedOfMissingContext || typeof ctx !== 'object' || ctx === null) return;
  if (globalThis.process?.env?.['NODE_ENV'] === 'production') return;
  warnedOfMissingContext = true;
  console.warn(
    'trpc-idempotency: idempotencyResponseHeaders() found no idempotencyResponseContext() in the request context, so it can never send Idempotent-Replayed: spread ...idempotencyResponseContext() into what your createContext returns (README.md#response-headers). This warning is shown once, and not when NODE_ENV is production.',
  );
}

/**
 * Whether tRPC asks for the headers before the calls have run (a streamed
 * response). A REST front-end (trpc-to-openapi) runs one call through a
 * caller, lists no calls, and always says `eagerGeneration` though it asks
 * once the call answered: not streamed.
 */
function isStreamed(opts: IdempotencyResponseMetaOptions) {
  return opts.eagerGeneration === true && opts.info?.calls.length !== 0;
}

function isReplayAsAWhole(opts: IdempotencyResponseMetaOptions) {
  const record = recordOf(opts.ctx);
  if (!record) warnOfMissingContext(opts.ctx);
  const replayed = record?.replayedByCall;
  if (!replayed || !opts.info || isStreamed(opts)) return false;
  // The REST front-end's one call is number 0.
  const calls = Math.max(1, opts.info.calls.length);
  for (let index = 0; index < calls; index++) {
    if (replayed.get(index) !== true) return false;
  }
  return true;
}
