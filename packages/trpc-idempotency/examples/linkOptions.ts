// The link's options, with their defaults
import { idempotencyLink } from 'trpc-idempotency/client';

export const link = idempotencyLink({
  maxAttempts: 5, // including the first
  deadlineMs: 30_000, // overall, from the first attempt
  baseDelayMs: 100, // exponential backoff with full jitter…
  maxDelayMs: 5_000, // …capped here; a server's retryAfterMs is honoured
  onRetry: ({ attempt, delayMs, error, idempotencyKey }) => {
    console.warn(`retry ${attempt} in ${delayMs} ms with key ${idempotencyKey}: ${error.message}`);
  },
  filter: (op) => op.path !== 'audit.log', // which mutations get a key and retries
});
