import { TRPCClientError } from '@trpc/client';
import { describe, expect, test, vi } from 'vitest';
import { IDEMPOTENCY_REASONS } from '../shared/reasons';
import {
  DEFAULT_RETRIES,
  getIdempotencyKey,
  idempotentRetry,
  idempotentRetryDelay,
  requireIdempotencyKey,
} from './idempotentMutationOptions';

/** A client error as the HTTP links make them from a tRPC error response. */
function serverError(code: string, httpStatus: number, extra: Record<string, unknown> = {}) {
  return TRPCClientError.from({
    error: { code: -32000, message: code, data: { code, httpStatus, ...extra } },
  });
}
const networkError = TRPCClientError.from(new TypeError('fetch failed'));

describe('idempotentRetry', () => {
  test.each([
    ['a network failure', networkError],
    ['a 500', serverError('INTERNAL_SERVER_ERROR', 500)],
    ['a 429', serverError('TOO_MANY_REQUESTS', 429)],
    [
      'an in-progress 409',
      serverError('CONFLICT', 409, { reason: IDEMPOTENCY_REASONS.inProgress }),
    ],
  ])('retries %s, up to DEFAULT_RETRIES times', (_, error) => {
    expect(idempotentRetry(0, error)).toBe(true);
    expect(idempotentRetry(DEFAULT_RETRIES - 1, error)).toBe(true);
    expect(idempotentRetry(DEFAULT_RETRIES, error)).toBe(false);
  });

  test.each([
    ['a 400', serverError('BAD_REQUEST', 400)],
    ['a 412', serverError('PRECONDITION_FAILED', 412)],
    [
      'a reused key',
      serverError('UNPROCESSABLE_CONTENT', 422, { reason: IDEMPOTENCY_REASONS.keyReused }),
    ],
    ['an abort', TRPCClientError.from(new DOMException('aborted', 'AbortError'))],
  ])('never retries %s', (_, error) => {
    expect(idempotentRetry(0, error)).toBe(false);
  });
});

describe('idempotentRetryDelay', () => {
  test('full jitter under a cap that doubles per retry, at most 10 s', () => {
    vi.spyOn(Math, 'random').mockReturnValue(0.999_999);
    try {
      expect(idempotentRetryDelay(0, networkError)).toBeCloseTo(250, 0);
      expect(idempotentRetryDelay(2, networkError)).toBeCloseTo(1000, 0);
      expect(idempotentRetryDelay(20, networkError)).toBeCloseTo(10_000, 0);
    } finally {
      vi.restoreAllMocks();
    }
  });

  test("never sooner than the server's hint", () => {
    const inProgress = serverError('CONFLICT', 409, {
      reason: IDEMPOTENCY_REASONS.inProgress,
      retryAfterMs: 1500,
    });
    expect(idempotentRetryDelay(0, inProgress)).toBe(1500);
  });
});

test('keys are read from the variables, and required loudly', () => {
  expect(getIdempotencyKey({ idempotencyKey: 'k-1', amount: 1 })).toBe('k-1');
  for (const variables of [undefined, null, 'k', { idempotencyKey: '' }, { idempotencyKey: 7 }]) {
    expect(getIdempotencyKey(variables)).toBeUndefined();
  }
  // Named by its procedure: tRPC's mutation key printed raw reads like a key.
  expect(() =>
    requireIdempotencyKey({ amount: 1 }, [['transfers', 'create'], { type: 'mutation' }]),
  ).toThrow('idempotent mutation `transfers.create` was called without `idempotencyKey`');
  expect(() => requireIdempotencyKey({ amount: 1 }, undefined)).toThrow(
    'an idempotent mutation (no mutationKey) was called without',
  );
  expect(() => requireIdempotencyKey({ amount: 1 }, ['pay-form'])).toThrow(
    'the idempotent mutation with mutationKey ["pay-form"] was called without',
  );
});
