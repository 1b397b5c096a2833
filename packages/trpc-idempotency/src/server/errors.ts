import { TRPCError, type TRPCErrorShape } from '@trpc/server';
import {
  IDEMPOTENCY_REASONS,
  type IdempotencyErrorData,
  type IdempotencyReason,
} from '../shared/reasons';
import { IdempotencyKeyInvalidError } from './keyFormat';

/**
 * The `TRPCError` of every idempotency-specific failure, carrying its reason
 * so the error formatter can put it in `error.data`.
 * @see README.md#errors
 */
export class IdempotencyError extends TRPCError {
  readonly reason: IdempotencyReason;
  readonly retryAfterMs: number | undefined;
  readonly completedAt: number | undefined;
  /** The server's horizon (SPEC 7.10), set by the executor that answers with this error. */
  horizonMs: number | undefined;
  constructor(opts: {
    code: TRPCError['code'];
    reason: IdempotencyReason;
    message: string;
    retryAfterMs?: number;
    completedAt?: number;
    horizonMs?: number;
    cause?: unknown;
  }) {
    super({ code: opts.code, message: opts.message, cause: opts.cause });
    this.reason = opts.reason;
    this.retryAfterMs = opts.retryAfterMs;
    this.completedAt = opts.completedAt;
    this.horizonMs = opts.horizonMs;
  }
}

/** The key was first used with another procedure or input (README.md#errors). */
export function keyReusedError(opts: { key: string; path: string; firstPath: string }) {
  const what =
    opts.firstPath === opts.path ? 'with different input' : `with procedure \`${opts.firstPath}\``;
  return new IdempotencyError({
    code: 'UNPROCESSABLE_CONTENT',
    reason: IDEMPOTENCY_REASONS.keyReused,
    message: `idempotency key was first used ${what}; use a new key for a new operation`,
  });
}

/** The first request with this key is still running (README.md#errors). */
export function inProgressError(opts: { retryAfterMs: number }) {
  return new IdempotencyError({
    code: 'CONFLICT',
    reason: IDEMPOTENCY_REASONS.inProgress,
    message: `a request with this idempotency key is still in progress; retry with the same key after ${opts.retryAfterMs} ms`,
    retryAfterMs: opts.retryAfterMs,
  });
}

/**
 * The key's operation ran, but its response is past the TTL: only its
 * tombstone is kept (SPEC 3.7). Not retryable; never executed again.
 * `NOT_FOUND` (404): tRPC has no 410 Gone, and every other 4xx means
 * something a client might act on (409 retry, 422 a new key).
 */
export function outcomeExpiredError(opts: { completedAt: number; horizonMs: number }) {
  return new IdempotencyError({
    code: 'NOT_FOUND',
    reason: IDEMPOTENCY_REASONS.outcomeExpired,
    message: `the operation with this idempotency key completed at ${new Date(opts.completedAt).toISOString()}; its response is no longer stored, and it will not run again`,
    completedAt: opts.completedAt,
    horizonMs: opts.horizonMs,
  });
}

/** The outcome cannot be stored, so it could not be replayed (README.md#errors). */
export function responseNotStorableError(opts: { path: string; cause: unknown }) {
  const why = opts.cause instanceof Error ? opts.cause.message : String(opts.cause);
  return new IdempotencyError({
    code: 'INTERNAL_SERVER_ERROR',
    reason: IDEMPOTENCY_REASONS.responseNotStorable,
    message: `the result of \`${opts.path}\` could not be stored for replay: ${why}`,
    cause: opts.cause,
  });
}

/** The input cannot be fingerprinted, so no record can be bound to it (README.md#record-lifecycle). */
export function inputNotFingerprintableError(opts: { cause: unknown }) {
  return new IdempotencyError({
    code: 'BAD_REQUEST',
    reason: IDEMPOTENCY_REASONS.inputNotFingerprintable,
    message: opts.cause instanceof Error ? opts.cause.message : 'the input cannot be fingerprinted',
    cause: opts.cause,
  });
}

/** The builder's `scope` option returned something other than a non-empty string. */
export function scopeInvalidError(opts: { path: string; scope: unknown }) {
  const got = typeof opts.scope === 'string' ? 'an empty string' : typeof opts.scope;
  return new IdempotencyError({
    code: 'INTERNAL_SERVER_ERROR',
    reason: IDEMPOTENCY_REASONS.scopeInvalid,
    message: `idempotency scope for \`${opts.path}\` is empty: the scope option must return a non-empty string (got ${got})`,
  });
}

/** The reason and retry hint of an idempotency error, if `error` is one. */
export function getIdempotencyErrorData(error: unknown): IdempotencyErrorData | undefined {
  if (error instanceof IdempotencyError) {
    return {
      reason: error.reason,
      ...(error.retryAfterMs !== undefined && { retryAfterMs: error.retryAfterMs }),
      ...(error.completedAt !== undefined && { completedAt: error.completedAt }),
      ...(error.horizonMs !== undefined && { horizonMs: error.horizonMs }),
    };
  }
  if (error instanceof TRPCError && error.cause instanceof IdempotencyKeyInvalidError) {
    return { reason: IDEMPOTENCY_REASONS.keyInvalid };
  }
  return undefined;
}

/**
 * The wire shape of an idempotency error: `shape` (tRPC's default shape of
 * `error`), passed through `format` if given (the root `errorFormatter`: it
 * sees idempotency errors as it sees every other error, and may add a
 * request id or hide a message), with `data.reason` (and `data.retryAfterMs`,
 * `data.completedAt`, `data.horizonMs`) on top of what it returns. `undefined` for any other error, which goes on
 * to the user's own formatters. The input-validation error of a bad key
 * says only what the key parser said. The one shaping of idempotency errors:
 * the builder (`builderSteps.ts`) applies it from its resolver wrapper, or as
 * an `.errors()` step just before the user's first.
 */
export function idempotencyErrorShape(opts: {
  error: TRPCError;
  shape: TRPCErrorShape;
  format?: ((shape: TRPCErrorShape) => TRPCErrorShape | undefined) | undefined;
  /** The builder's horizon, for an error that does not carry it (an invalid key). */
  horizonMs?: number | undefined;
}): TRPCErrorShape | undefined {
  const found = getIdempotencyErrorData(opts.error);
  if (!found) return undefined;
  const data =
    found.horizonMs === undefined && opts.horizonMs !== undefined
      ? { ...found, horizonMs: opts.horizonMs }
      : found;
  const formatted = opts.format?.(opts.shape) ?? opts.shape;
  return { ...formatted, data: { ...formatted.data, ...data } };
}

/** The idempotency store failed: the request's outcome is unknown to it; retry with the same key. */
export function storeUnavailableError(opts: { cause: unknown }) {
  return new IdempotencyError({
    code: 'INTERNAL_SERVER_ERROR',
    reason: IDEMPOTENCY_REASONS.storeUnavailable,
    message: 'the idempotency store is unavailable; retry with the same idempotency key',
    cause: opts.cause,
  });
}

/** JavaScript's own errors for code that is wrong, whatever its input: a retry runs the same bug. */
const PROGRAMMING_ERRORS = new Set([
  'TypeError',
  'ReferenceError',
  'SyntaxError',
  'RangeError',
  'EvalError',
  'URIError',
]);

/** MySQL and MariaDB integrity errors: duplicate key, foreign keys, NOT NULL, CHECK. */
const MYSQL_CONSTRAINT_ERRNOS = new Set([1048, 1062, 1216, 1217, 1451, 1452, 1364, 3819, 4025]);

/** The error and its causes, outermost first (bounded: a cause chain may loop). */
function causeChain(error: unknown): unknown[] {
  const chain: unknown[] = [];
  let current: unknown = error;
  while (current instanceof Error && chain.length < 8 && !chain.includes(current)) {
    chain.push(current);
    current = current.cause;
  }
  return chain;
}

/** A driver's integrity constraint violation: SQLite, libSQL, Postgres (SQLSTATE class 23), MySQL. */
function isConstraintViolation(error: unknown): boolean {
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === 'string') {
    if (code.startsWith('SQLITE_CONSTRAINT')) return true;
    if (/^23[0-9A-Z]{3}$/.test(code)) return true;
  }
  return typeof errno === 'number' && MYSQL_CONSTRAINT_ERRNOS.has(errno);
}

/**
 * A failure no retry can fix, which the client should not retry
 * (`Idempotency-Should-Retry: false`, see `idempotencyResponseHeaders`): a
 * bug in the handler (a `TypeError`, `ReferenceError`, … it threw) or an
 * integrity constraint its writes violated, and a result that cannot be
 * stored. A `TypeError` caused by a system error (`fetch failed` with
 * `ECONNRESET`) is a network failure, not a bug. Every other 5xx — a lost
 * connection, a busy database, a `TRPCError` the handler threw — stays
 * retryable. 4xx errors are never retried anyway.
 * @see README.md#one-retry-budget
 */
export function isUnfixableByRetry(error: TRPCError): boolean {
  if (error instanceof IdempotencyError) {
    return error.reason === IDEMPOTENCY_REASONS.responseNotStorable;
  }
  const chain = causeChain(error.cause);
  if (chain.some(isConstraintViolation)) return true;
  const systemFailure = chain.some(
    (cause) => typeof (cause as { code?: unknown }).code === 'string',
  );
  return !systemFailure && chain.some((cause) => PROGRAMMING_ERRORS.has((cause as Error).name));
}
