// Branching on idempotency errors in the client
import {
  isIdempotencyError,
  isIdempotencyInProgress,
  isIdempotencyKeyReused,
} from 'trpc-idempotency/client';

export function describeFailure(err: unknown): string {
  if (isIdempotencyKeyReused(err)) {
    // 422: the key was first used for another operation. err.data.code: 'UNPROCESSABLE_CONTENT'
    return `start a new operation with a new key (${err.message})`;
  }
  if (isIdempotencyInProgress(err)) {
    // 409: the first request with this key is still running. The link retries these by itself.
    return `still running: retry with the same key in ${err.data.retryAfterMs} ms`;
  }
  if (isIdempotencyError(err)) return `idempotency error ${err.data.reason}`; // typed union of reasons
  return err instanceof Error ? err.message : String(err);
}
