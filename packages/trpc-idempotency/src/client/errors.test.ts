import { TRPCClientError } from '@trpc/client';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { describe, expect, expectTypeOf, test } from 'vitest';
import type { TestRouter } from '../../test/helpers/testServerResource';
import { IDEMPOTENCY_REASONS, type IdempotencyReason } from '../shared/reasons';
import {
  getHorizonMs,
  getIdempotencyReason,
  getRetryAfterMs,
  isIdempotencyInProgress,
  isIdempotencyKeyInvalid,
  isIdempotencyKeyReused,
  isIdempotencyOutcomeExpired,
  isMarkedNotRetryable,
  isRetryableError,
} from './errors';

const JSON_RPC_CODES: Partial<Record<TRPC_ERROR_CODE_KEY, number>> = {
  BAD_REQUEST: -32600,
  INTERNAL_SERVER_ERROR: -32603,
  BAD_GATEWAY: -32603,
  SERVICE_UNAVAILABLE: -32603,
  TIMEOUT: -32008,
  CONFLICT: -32009,
  PRECONDITION_FAILED: -32012,
  UNPROCESSABLE_CONTENT: -32022,
  TOO_MANY_REQUESTS: -32029,
  NOT_FOUND: -32004,
};
const HTTP_STATUS: Partial<Record<TRPC_ERROR_CODE_KEY, number>> = {
  BAD_REQUEST: 400,
  INTERNAL_SERVER_ERROR: 500,
  BAD_GATEWAY: 502,
  SERVICE_UNAVAILABLE: 503,
  TIMEOUT: 408,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  UNPROCESSABLE_CONTENT: 422,
  TOO_MANY_REQUESTS: 429,
  NOT_FOUND: 404,
};

/** A `TRPCClientError` as the HTTP links build it from a server's error response. */
function serverError(opts: {
  code: TRPC_ERROR_CODE_KEY;
  reason?: IdempotencyReason;
  retryAfterMs?: number;
  response?: Response;
}) {
  return TRPCClientError.from<TestRouter>(
    {
      error: {
        code: JSON_RPC_CODES[opts.code]!,
        message: 'failed',
        data: {
          code: opts.code,
          httpStatus: HTTP_STATUS[opts.code]!,
          ...(opts.reason && { reason: opts.reason }),
          ...(opts.retryAfterMs !== undefined && { retryAfterMs: opts.retryAfterMs }),
        },
      },
    },
    opts.response && { meta: { response: opts.response } },
  );
}

describe('getIdempotencyReason', () => {
  test.each(Object.values(IDEMPOTENCY_REASONS))('reads %s', (reason) => {
    expect(getIdempotencyReason(serverError({ code: 'BAD_REQUEST', reason }))).toBe(reason);
  });

  test('reads a `TRPCClientErrorLike` or an error shape', () => {
    const shape = { message: 'm', code: -32009, data: { reason: 'IDEMPOTENCY_IN_PROGRESS' } };
    expect(getIdempotencyReason(shape)).toBe(IDEMPOTENCY_REASONS.inProgress);
  });

  test.each([
    ['no reason', serverError({ code: 'CONFLICT' })],
    ['an unknown reason', { data: { reason: 'SOMETHING_ELSE' } }],
    ['a non-string reason', { data: { reason: 42 } }],
    ['a network error', TRPCClientError.from(new TypeError('fetch failed'))],
    ['a plain Error', new Error('x')],
    ['null', null],
    ['a string', 'IDEMPOTENCY_KEY_REUSED'],
  ])('is undefined for %s', (_, err) => {
    expect(getIdempotencyReason(err)).toBeUndefined();
  });
});

describe('type guards', () => {
  test('each matches its own reason only', () => {
    const invalid = serverError({ code: 'BAD_REQUEST', reason: IDEMPOTENCY_REASONS.keyInvalid });
    const reused = serverError({
      code: 'UNPROCESSABLE_CONTENT',
      reason: IDEMPOTENCY_REASONS.keyReused,
    });
    const inProgress = serverError({
      code: 'CONFLICT',
      reason: IDEMPOTENCY_REASONS.inProgress,
      retryAfterMs: 10,
    });
    const expired = serverError({ code: 'NOT_FOUND', reason: IDEMPOTENCY_REASONS.outcomeExpired });
    const guards = [
      isIdempotencyKeyInvalid,
      isIdempotencyKeyReused,
      isIdempotencyInProgress,
      isIdempotencyOutcomeExpired,
    ];

    expect(guards.map((guard) => guard(invalid))).toEqual([true, false, false, false]);
    expect(guards.map((guard) => guard(reused))).toEqual([false, true, false, false]);
    expect(guards.map((guard) => guard(inProgress))).toEqual([false, false, true, false]);
    expect(guards.map((guard) => guard(expired))).toEqual([false, false, false, true]);
    expect(guards.map((guard) => guard(serverError({ code: 'CONFLICT' })))).toEqual([
      false,
      false,
      false,
      false,
    ]);
  });

  test('narrow a router-typed error and keep its type', () => {
    const err: TRPCClientError<TestRouter> = serverError({
      code: 'CONFLICT',
      reason: IDEMPOTENCY_REASONS.inProgress,
      retryAfterMs: 10,
    });
    if (!isIdempotencyInProgress(err)) throw new Error('expected an in-progress error');

    expectTypeOf(err).toExtend<TRPCClientError<TestRouter>>();
    expectTypeOf(err.data.reason).toEqualTypeOf<'IDEMPOTENCY_IN_PROGRESS'>();
    expectTypeOf(err.data.retryAfterMs).toEqualTypeOf<number>();
    expectTypeOf(err.data.httpStatus).toEqualTypeOf<number>();
    expect(err.data.retryAfterMs).toBe(10);
  });
});

describe('getRetryAfterMs', () => {
  test('prefers `data.retryAfterMs`', () => {
    const response = new Response(null, { headers: { 'retry-after': '7' } });
    const err = serverError({
      code: 'CONFLICT',
      reason: IDEMPOTENCY_REASONS.inProgress,
      retryAfterMs: 250,
      response,
    });
    expect(getRetryAfterMs(err)).toBe(250);
  });

  test('falls back to a `Retry-After` header in seconds', () => {
    const response = new Response(null, { status: 503, headers: { 'retry-after': ' 3 ' } });
    expect(getRetryAfterMs(serverError({ code: 'SERVICE_UNAVAILABLE', response }))).toBe(3000);
  });

  test('reads a `Retry-After` HTTP-date', () => {
    const at = new Date(Date.now() + 60_000).toUTCString();
    const response = new Response(null, { headers: { 'retry-after': at } });
    const ms = getRetryAfterMs(serverError({ code: 'TOO_MANY_REQUESTS', response }));
    // HTTP-dates have whole seconds.
    expect(ms).toBeGreaterThan(58_000);
    expect(ms).toBeLessThanOrEqual(60_000);
  });

  test('a past HTTP-date means now', () => {
    const response = new Response(null, { headers: { 'retry-after': new Date(0).toUTCString() } });
    expect(getRetryAfterMs(serverError({ code: 'TOO_MANY_REQUESTS', response }))).toBe(0);
  });

  test.each([
    ['no hint', serverError({ code: 'CONFLICT' })],
    ['a negative retryAfterMs', { data: { retryAfterMs: -1 } }],
    ['a non-finite retryAfterMs', { data: { retryAfterMs: Number.POSITIVE_INFINITY } }],
    [
      'an unparsable header',
      serverError({
        code: 'SERVICE_UNAVAILABLE',
        response: new Response(null, { headers: { 'retry-after': 'soon' } }),
      }),
    ],
    [
      'a negative header',
      { meta: { response: { headers: new Headers({ 'retry-after': '-5' }) } } },
    ],
    ['not an error', undefined],
  ])('is undefined for %s', (_, err) => {
    expect(getRetryAfterMs(err)).toBeUndefined();
  });
});

describe('isRetryableError: what the link retries', () => {
  test.each<{ code: TRPC_ERROR_CODE_KEY; reason?: IdempotencyReason; retryable: boolean }>([
    { code: 'INTERNAL_SERVER_ERROR', retryable: true },
    { code: 'BAD_GATEWAY', retryable: true },
    { code: 'SERVICE_UNAVAILABLE', retryable: true },
    { code: 'TIMEOUT', retryable: true },
    { code: 'TOO_MANY_REQUESTS', retryable: true },
    { code: 'CONFLICT', reason: IDEMPOTENCY_REASONS.inProgress, retryable: true },
    { code: 'CONFLICT', retryable: false },
    { code: 'BAD_REQUEST', retryable: false },
    { code: 'BAD_REQUEST', reason: IDEMPOTENCY_REASONS.keyInvalid, retryable: false },
    { code: 'UNPROCESSABLE_CONTENT', reason: IDEMPOTENCY_REASONS.keyReused, retryable: false },
    { code: 'PRECONDITION_FAILED', retryable: false },
    { code: 'NOT_FOUND', reason: IDEMPOTENCY_REASONS.outcomeExpired, retryable: false },
    {
      code: 'INTERNAL_SERVER_ERROR',
      reason: IDEMPOTENCY_REASONS.responseNotStorable,
      retryable: false,
    },
  ])('$code $reason: $retryable', ({ retryable, ...opts }) => {
    expect(isRetryableError(serverError(opts))).toBe(retryable);
  });

  test('retries a failure without a tRPC response', () => {
    expect(isRetryableError(TRPCClientError.from(new TypeError('fetch failed')))).toBe(true);
    // What the HTTP links make of a proxy's HTML error page.
    expect(
      isRetryableError(TRPCClientError.from(new SyntaxError('Unexpected token < in JSON'))),
    ).toBe(true);
  });

  test('never retries an aborted request', () => {
    const aborted = TRPCClientError.from(
      new DOMException('This operation was aborted', 'AbortError'),
    );
    expect(isRetryableError(aborted)).toBe(false);
  });

  test('uses the JSON-RPC code when the shape has no data', () => {
    const shapeOnly = (code: number) =>
      TRPCClientError.from({ error: { code, message: 'm' } } as never);
    expect(isRetryableError(shapeOnly(-32603))).toBe(true);
    expect(isRetryableError(shapeOnly(-32008))).toBe(true);
    expect(isRetryableError(shapeOnly(-32029))).toBe(true);
    expect(isRetryableError(shapeOnly(-32009))).toBe(false);
    expect(isRetryableError(shapeOnly(-32600))).toBe(false);
  });

  test('uses the response status when the data has no `httpStatus`', () => {
    const withStatus = (status: number) => ({
      data: { code: 'CUSTOM' },
      meta: { response: new Response(null, { status }) },
    });
    expect(isRetryableError(withStatus(503))).toBe(true);
    expect(isRetryableError(withStatus(409))).toBe(false);
  });

  test('uses `data.code` when the data has no `httpStatus`', () => {
    expect(isRetryableError({ data: { code: 'TIMEOUT' } })).toBe(true);
    expect(isRetryableError({ data: { code: 'TOO_MANY_REQUESTS' } })).toBe(true);
    expect(isRetryableError({ data: { code: 'CONFLICT' } })).toBe(false);
  });

  test('is false for values that are not errors', () => {
    expect(isRetryableError(undefined)).toBe(false);
    expect(isRetryableError('fetch failed')).toBe(false);
  });
});

describe('the server’s retry contract (README.md#one-retry-budget, #retention-on-the-client)', () => {
  test('a 500 the server marked as not worth retrying is not retried: header or data', () => {
    const marked = serverError({
      code: 'INTERNAL_SERVER_ERROR',
      response: new Response(null, {
        status: 500,
        headers: { 'Idempotency-Should-Retry': 'false' },
      }),
    });
    expect(isMarkedNotRetryable(marked)).toBe(true);
    expect(isRetryableError(marked)).toBe(false);
    const inData = { data: { code: 'INTERNAL_SERVER_ERROR', httpStatus: 500, retryable: false } };
    expect(isRetryableError(inData)).toBe(false);
    const unmarked = serverError({
      code: 'INTERNAL_SERVER_ERROR',
      response: new Response(null, {
        status: 500,
        headers: { 'Idempotency-Should-Retry': 'true' },
      }),
    });
    expect(isMarkedNotRetryable(unmarked)).toBe(false);
    expect(isRetryableError(unmarked)).toBe(true);
  });

  test('an expired outcome is typed, and never retried', () => {
    const expired = serverError({ code: 'CONFLICT', reason: IDEMPOTENCY_REASONS.outcomeExpired });
    expect(isIdempotencyOutcomeExpired(expired)).toBe(true);
    expect(isRetryableError(expired)).toBe(false);
    if (isIdempotencyOutcomeExpired(expired)) {
      expectTypeOf(expired.data.horizonMs).toEqualTypeOf<number | undefined>();
    }
  });

  test('the horizon is read from data.horizonMs, else the Idempotency-Horizon-Ms header', () => {
    expect(getHorizonMs({ data: { horizonMs: 2_592_000_000 } })).toBe(2_592_000_000);
    const withHeader = serverError({
      code: 'CONFLICT',
      response: new Response(null, { headers: { 'Idempotency-Horizon-Ms': '86400000' } }),
    });
    expect(getHorizonMs(withHeader)).toBe(86_400_000);
    for (const bad of ['-1', '1e3', 'soon', '']) {
      const wrong = serverError({
        code: 'CONFLICT',
        response: new Response(null, { headers: { 'Idempotency-Horizon-Ms': bad } }),
      });
      expect(getHorizonMs(wrong)).toBeUndefined();
    }
    expect(getHorizonMs({ data: { horizonMs: -5 } })).toBeUndefined();
  });
});
