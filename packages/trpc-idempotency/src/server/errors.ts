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
  constructor(opts: {
    code: TRPCError['code'];
    reason: IdempotencyReason;
    message: string;
    retryAfterMs?: number;
    cause?: unknown;
  }) {
    super({ code: opts.code, message: opts.message, cause: opts.cause });
    this.reason = opts.reason;
    this.retryAfterMs = opts.retryAfterMs;
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

/** The reason and retry hint of an idempotency error, if `error` is one. */
export function getIdempotencyErrorData(error: unknown): IdempotencyErrorData | undefined {
  if (error instanceof IdempotencyError) {
    return error.retryAfterMs === undefined
      ? { reason: error.reason }
      : { reason: error.reason, retryAfterMs: error.retryAfterMs };
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
 * request id or hide a message), with `data.reason` (and `data.retryAfterMs`)
 * on top of what it returns. `undefined` for any other error, which goes on
 * to the user's own formatters. The input-validation error of a bad key
 * says only what the key parser said. The one shaping of idempotency errors:
 * the builder (`builderSteps.ts`) applies it from its resolver wrapper, or as
 * an `.errors()` step just before the user's first.
 */
export function idempotencyErrorShape(opts: {
  error: TRPCError;
  shape: TRPCErrorShape;
  format?: ((shape: TRPCErrorShape) => TRPCErrorShape | undefined) | undefined;
}): TRPCErrorShape | undefined {
  const data = getIdempotencyErrorData(opts.error);
  if (!data) return undefined;
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
