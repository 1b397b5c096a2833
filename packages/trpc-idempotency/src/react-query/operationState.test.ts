import { TRPCClientError } from '@trpc/client';
import { describe, expect, test } from 'vitest';
import { markRetryBudgetSpent } from '../client/retryBudget';
import { IDEMPOTENCY_REASONS } from '../shared/reasons';
import { idempotentRetry } from './idempotentMutationOptions';
import { OutcomeUnknownError, operationStateOf } from './operationState';

/** A client error as the HTTP links make them from a tRPC error response. */
function serverError(code: string, httpStatus: number, extra: Record<string, unknown> = {}) {
  return TRPCClientError.from({
    error: { code: -32000, message: code, data: { code, httpStatus, ...extra } },
  });
}
const networkError = () => TRPCClientError.from(new TypeError('fetch failed'));
const failed = (error: unknown) => ({ status: 'error' as const, error, isPaused: false });

describe('operationStateOf: honest outcomes (SPEC 7.9, 7.10)', () => {
  test.each([
    ['a network failure', networkError(), 'waiting'],
    ['a 503', serverError('SERVICE_UNAVAILABLE', 503), 'waiting'],
    [
      'an in-progress 409',
      serverError('CONFLICT', 409, { reason: 'IDEMPOTENCY_IN_PROGRESS' }),
      'waiting',
    ],
    ['a final 412', serverError('PRECONDITION_FAILED', 412), 'failed'],
    [
      'a 500 marked as no retry helps',
      serverError('INTERNAL_SERVER_ERROR', 500, { retryable: false }),
      'failed',
    ],
    [
      'an expired outcome: it ran',
      serverError('CONFLICT', 409, { reason: IDEMPOTENCY_REASONS.outcomeExpired }),
      'succeeded',
    ],
    [
      'a discarded operation',
      new OutcomeUnknownError({ idempotencyKey: 'k', why: 'discarded' }),
      'unknown',
    ],
  ])('an error after %s: %s', (_, error, state) => {
    expect(operationStateOf(failed(error))).toBe(state);
  });

  test('pending, paused offline, succeeded, idle', () => {
    expect(operationStateOf({ status: 'pending', error: null, isPaused: false })).toBe('pending');
    expect(operationStateOf({ status: 'pending', error: null, isPaused: true })).toBe('waiting');
    expect(operationStateOf({ status: 'success', error: null, isPaused: false })).toBe('succeeded');
    expect(operationStateOf({ status: 'idle', error: null, isPaused: false })).toBe('idle');
  });
});

test('idempotentRetry adds nothing to a call the link already retried (one budget)', () => {
  const error = networkError();
  expect(idempotentRetry(0, error)).toBe(true);
  markRetryBudgetSpent(error, { idempotencyKey: 'k', attempts: 5 });
  expect(idempotentRetry(0, error)).toBe(false);
});
