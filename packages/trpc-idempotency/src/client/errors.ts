import {
  IDEMPOTENCY_HORIZON_HEADER,
  IDEMPOTENCY_REASONS,
  IDEMPOTENCY_SHOULD_RETRY_HEADER,
  type IdempotencyReason,
} from '../shared/reasons';

/** The tRPC error code the server answers each idempotency reason with. */
export interface IdempotencyReasonCodes {
  IDEMPOTENCY_KEY_INVALID: 'BAD_REQUEST';
  IDEMPOTENCY_KEY_REUSED: 'UNPROCESSABLE_CONTENT';
  IDEMPOTENCY_IN_PROGRESS: 'CONFLICT';
  IDEMPOTENCY_RESPONSE_NOT_STORABLE: 'INTERNAL_SERVER_ERROR';
  IDEMPOTENCY_STORE_UNAVAILABLE: 'INTERNAL_SERVER_ERROR';
  IDEMPOTENCY_OUTCOME_EXPIRED: 'NOT_FOUND';
  IDEMPOTENCY_INPUT_NOT_FINGERPRINTABLE: 'BAD_REQUEST';
  IDEMPOTENCY_SCOPE_INVALID: 'INTERNAL_SERVER_ERROR';
}

/**
 * The `data` of an idempotency error with reason `TReason`, as the server
 * sends it: its code and HTTP status beside the reason, and the retry hint of
 * an in-progress conflict.
 * @see README.md#errors
 */
export type IdempotencyClientErrorData<TReason extends IdempotencyReason = IdempotencyReason> =
  TReason extends IdempotencyReason
    ? {
        readonly reason: TReason;
        readonly code: IdempotencyReasonCodes[TReason];
        readonly httpStatus: number;
        /**
         * The server's horizon in ms (SPEC 7.10): an operation older than it is
         * never resent. Sent by servers of this version on every idempotency error.
         */
        readonly horizonMs?: number;
      } & (TReason extends typeof IDEMPOTENCY_REASONS.inProgress
        ? {
            /** When to retry with the same key, in milliseconds. */
            readonly retryAfterMs: number;
          }
        : unknown) &
        (TReason extends typeof IDEMPOTENCY_REASONS.outcomeExpired
          ? {
              /** When the operation completed, epoch ms. */
              readonly completedAt: number;
              /** The server's horizon in ms, when it says (it does on every idempotency error). */
              readonly horizonMs?: number;
            }
          : unknown)
    : never;

/**
 * A client error that carries an idempotency reason, as the guards below
 * narrow it: `err.data.reason` (and `err.data.retryAfterMs` when in progress)
 * are typed. On a `TRPCClientError<AppRouter>` the narrowed type keeps
 * everything else the error had.
 * @see README.md#errors
 */
export interface IdempotencyClientError<TReason extends IdempotencyReason = IdempotencyReason> {
  readonly message: string;
  readonly data: IdempotencyClientErrorData<TReason>;
}

/**
 * The fields the helpers read from an error, whatever produced it: a
 * `TRPCClientError`, a `TRPCClientErrorLike` or an error shape. All `unknown`,
 * so each one is checked before use.
 */
interface LooseError {
  name?: unknown;
  cause?: unknown;
  shape?: unknown;
  data?: unknown;
  meta?: unknown;
}
interface LooseData {
  code?: unknown;
  httpStatus?: unknown;
  reason?: unknown;
  retryAfterMs?: unknown;
  retryable?: unknown;
  horizonMs?: unknown;
}
interface LooseResponse {
  status?: unknown;
  headers?: unknown;
}

const KNOWN_REASONS: ReadonlySet<string> = new Set(Object.values(IDEMPOTENCY_REASONS));

/**
 * HTTP status of the JSON-RPC codes that matter for retrying, for error shapes
 * without `data.httpStatus`. Every other tRPC code is a 4xx.
 */
const STATUS_BY_JSON_RPC_CODE: ReadonlyMap<number, number> = new Map([
  [-32603, 500],
  [-32008, 408],
  [-32029, 429],
]);

/** `value` if it is an object, to read its fields as `unknown`. */
function asObject<T extends object>(value: unknown): T | undefined {
  return typeof value === 'object' && value !== null ? (value as T) : undefined;
}

function getData(err: LooseError): LooseData | undefined {
  return asObject<LooseData>(err.data);
}

/** The HTTP response behind a `TRPCClientError`, when its link exposed one. */
function getResponse(err: LooseError): LooseResponse | undefined {
  return asObject<LooseResponse>(asObject<{ response?: unknown }>(err.meta)?.response);
}

/**
 * True when the server answered with a tRPC error: the error has a shape or
 * its data. Without either, the request failed before a tRPC response existed
 * (connection refused or reset, a proxy's HTML 502, an unparsable body).
 */
function hasServerResponse(err: LooseError): boolean {
  return asObject(err.shape) !== undefined || asObject(err.data) !== undefined;
}

function isAbortError(err: LooseError): boolean {
  return err.name === 'AbortError' || asObject<LooseError>(err.cause)?.name === 'AbortError';
}

function getHttpStatus(err: LooseError): number | undefined {
  const status = getData(err)?.httpStatus;
  if (typeof status === 'number') return status;
  const shapeCode = asObject<{ code?: unknown }>(err.shape)?.code;
  if (typeof shapeCode === 'number') return STATUS_BY_JSON_RPC_CODE.get(shapeCode) ?? 400;
  const responseStatus = getResponse(err)?.status;
  return typeof responseStatus === 'number' ? responseStatus : undefined;
}

/**
 * Reads a `Retry-After` header value: delay-seconds or an HTTP-date.
 * @see https://httpwg.org/specs/rfc9110.html#field.retry-after
 */
function parseRetryAfter(value: string): number | undefined {
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // Every HTTP-date starts with a day name; `Date.parse` alone would read "-5" as a year.
  if (!/^[A-Za-z]{3}/.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * The idempotency reason in an error's `data.reason`, if it carries a known one.
 * Accepts a `TRPCClientError`, a `TRPCClientErrorLike` or an error shape.
 * @see README.md#errors
 */
export function getIdempotencyReason(err: unknown): IdempotencyReason | undefined {
  const error = asObject<LooseError>(err);
  const reason = error && getData(error)?.reason;
  return typeof reason === 'string' && KNOWN_REASONS.has(reason)
    ? (reason as IdempotencyReason)
    : undefined;
}

/**
 * Any idempotency error: narrows `err` so `err.data.reason` is typed, to
 * `switch` on it.
 * @see README.md#errors
 */
export function isIdempotencyError(err: unknown): err is IdempotencyClientError {
  return getIdempotencyReason(err) !== undefined;
}

/** A type guard for one reason: `err` narrowed to a client error with that reason's typed data. */
function reasonGuard<TReason extends IdempotencyReason>(reason: TReason) {
  return (err: unknown): err is IdempotencyClientError<TReason> =>
    getIdempotencyReason(err) === reason;
}

/**
 * The key is missing, empty, malformed or too long (`BAD_REQUEST`): fix the request.
 * @see README.md#errors
 */
export const isIdempotencyKeyInvalid = reasonGuard(IDEMPOTENCY_REASONS.keyInvalid);

/**
 * The key was first used with another procedure or input (`UNPROCESSABLE_CONTENT`):
 * a new operation needs a new key.
 * @see README.md#errors
 */
export const isIdempotencyKeyReused = reasonGuard(IDEMPOTENCY_REASONS.keyReused);

/**
 * The first request with this key is still running (`CONFLICT`): retry with the
 * same key after {@link getRetryAfterMs}.
 * @see README.md#errors
 */
export const isIdempotencyInProgress = reasonGuard(IDEMPOTENCY_REASONS.inProgress);

/**
 * The handler ran but its result could not be stored for replay
 * (`INTERNAL_SERVER_ERROR`): a server bug to fix; not retried, since a retry
 * would execute the operation again.
 * @see README.md#errors
 */
export const isIdempotencyResponseNotStorable = reasonGuard(
  IDEMPOTENCY_REASONS.responseNotStorable,
);

/**
 * The operation ran (at `err.data.completedAt`), but its response is past the
 * server's TTL and no longer stored (`NOT_FOUND`): show it as done, without its
 * result. Not retried; a new key would run it a second time.
 * @see README.md#errors
 */
export const isIdempotencyOutcomeExpired = reasonGuard(IDEMPOTENCY_REASONS.outcomeExpired);

/** A response header of `err`'s HTTP response, when its link exposed the response. */
function headerOf(error: LooseError, name: string): string | undefined {
  const headers = asObject<{ get?: unknown }>(getResponse(error)?.headers);
  if (typeof headers?.get !== 'function') return undefined;
  const value: unknown = (headers.get as (name: string) => unknown).call(headers, name);
  return typeof value === 'string' ? value : undefined;
}

/** A non-negative whole number of milliseconds from a header or a data field. */
function milliseconds(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 0
    ? number
    : undefined;
}

/**
 * How long the server keeps a key's tombstone (its horizon), in
 * milliseconds, as an error tells it: `data.horizonMs`, else the response's
 * `Idempotency-Horizon-Ms` header. `undefined` when it does not say.
 * @see README.md#retention-on-the-client
 */
export function getHorizonMs(err: unknown): number | undefined {
  const error = asObject<LooseError>(err);
  if (!error) return undefined;
  return (
    milliseconds(getData(error)?.horizonMs) ??
    milliseconds(headerOf(error, IDEMPOTENCY_HORIZON_HEADER))
  );
}

/**
 * True when the server marked the failure as one no retry can fix (a bug in
 * the handler, a constraint violation): `data.retryable: false`, or the
 * response header `Idempotency-Should-Retry: false`.
 * @see README.md#one-retry-budget
 */
export function isMarkedNotRetryable(err: unknown): boolean {
  const error = asObject<LooseError>(err);
  if (!error) return false;
  if (getData(error)?.retryable === false) return true;
  return headerOf(error, IDEMPOTENCY_SHOULD_RETRY_HEADER)?.trim().toLowerCase() === 'false';
}

/**
 * The server's retry hint in milliseconds: `data.retryAfterMs`, else the
 * response's `Retry-After` header when the link exposed the response.
 * @see README.md#errors
 */
export function getRetryAfterMs(err: unknown): number | undefined {
  const error = asObject<LooseError>(err);
  if (!error) return undefined;
  const retryAfterMs = getData(error)?.retryAfterMs;
  if (typeof retryAfterMs === 'number' && Number.isFinite(retryAfterMs) && retryAfterMs >= 0) {
    return retryAfterMs;
  }
  const value = headerOf(error, 'retry-after');
  return value === undefined ? undefined : parseRetryAfter(value);
}

/**
 * Whether retrying with the same key is safe and useful: network
 * failures without a tRPC response, 5xx, `TIMEOUT`, `TOO_MANY_REQUESTS` and
 * the in-progress `CONFLICT`. Never other 4xx, a reused key, an expired
 * outcome, an aborted request, or a failure the server marked as not worth
 * retrying (see {@link isMarkedNotRetryable}).
 * @see README.md#the-client-link
 */
export function isRetryableError(err: unknown): boolean {
  const error = asObject<LooseError>(err);
  if (!error || isAbortError(error) || isMarkedNotRetryable(error)) return false;
  const reason = getIdempotencyReason(error);
  if (reason === IDEMPOTENCY_REASONS.inProgress) return true;
  // Invalid and reused keys are 4xx. A response that could not be stored is a
  // 500, but its handler already ran and nothing was kept for replay: a retry
  // would execute the operation a second time.
  if (reason !== undefined) return false;
  if (!hasServerResponse(error)) return true;
  const code = getData(error)?.code;
  if (code === 'TIMEOUT' || code === 'TOO_MANY_REQUESTS') return true;
  const status = getHttpStatus(error);
  return (
    status !== undefined && (status === 408 || status === 429 || (status >= 500 && status < 600))
  );
}
