// The link's options, with their defaults
import { idempotencyLink } from 'trpc-idempotency/client';
import type { AppRouter } from './quickstart/router.js';

export const link = idempotencyLink<AppRouter>({
  procedures: { pay: true }, // required: exactly the router's idempotent mutations, see below
  maxAttempts: 5, // including the first
  deadlineMs: 30_000, // overall, from the first attempt
  baseDelayMs: 100, // exponential backoff with full jitter…
  maxDelayMs: 5_000, // …capped here; a server's retryAfterMs is honoured
  onRetry: ({ attempt, delayMs, error, idempotencyKey }) => {
    console.warn(`retry ${attempt} in ${delayMs} ms with key ${idempotencyKey}: ${error.message}`);
  },
  generateKey: () => crypto.randomUUID(), // the default
});
