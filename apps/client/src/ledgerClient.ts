import type { AppRouter } from '@ledger/server';
import { createTRPCClient, httpBatchLink, httpLink, type TRPCClientError } from '@trpc/client';
import {
  type IdempotencyRetryInfo,
  type IdempotentProcedures,
  idempotencyLink,
} from 'trpc-idempotency/client';

/**
 * The ledger's idempotent mutations: only these get a key and retries. Checked
 * against the server's router type, so a change on either side that is not
 * made on the other is a compile error.
 */
export const ledgerProcedures = {
  'accounts.open': true,
  'transfers.create': true,
  'payouts.create': true,
} as const satisfies IdempotentProcedures<AppRouter>;

/** The retry policy of the idempotency link (see its options). */
export interface RetryOptions {
  maxAttempts?: number;
  deadlineMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  random?: () => number;
}

/** Options of {@link createLedgerClient}. */
export interface LedgerClientOptions {
  /** The tRPC base URL, e.g. `http://127.0.0.1:3000/trpc`. */
  url: string;
  /** Sent as `x-user-id`; mutations need one. */
  user?: string;
  /** Batch calls made together into one HTTP request (`httpBatchLink`). Default true. */
  batch?: boolean;
  /**
   * The most calls in one HTTP batch; more calls made together go out as
   * several requests. The server refuses a larger batch (400), so this must
   * not exceed its `TRPC_MAX_BATCH_SIZE`. Default 100, the server's default.
   */
  maxBatchItems?: number;
  retry?: RetryOptions;
  /** A single HTTP attempt is abandoned (and retried) after this long, in ms. Default 10 000. */
  attemptTimeoutMs?: number;
  /** Told before every retry of a mutation. */
  onRetry?: (info: IdempotencyRetryInfo<AppRouter>) => void;
}

/** A client error of the ledger API. */
export type LedgerClientError = TRPCClientError<AppRouter>;

/**
 * A typed ledger client. Every mutation gets an idempotency key (unless the
 * caller passes one) and is retried with that same key on network failures,
 * 5xx and in-progress conflicts, so a retry can never apply a transfer twice.
 */
export function createLedgerClient(opts: LedgerClientOptions) {
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? 10_000;
  const transport = {
    url: opts.url,
    // The server reads x-user-id as UTF-8; fetch sends one byte per character: send the UTF-8 bytes.
    headers:
      opts.user === undefined
        ? {}
        : { 'x-user-id': Buffer.from(opts.user, 'utf8').toString('latin1') },
    // A hung attempt fails like a lost connection (a TimeoutError, not an abort), so it is retried.
    fetch: (input: RequestInfo | URL, init?: RequestInit) => {
      const timeout = AbortSignal.timeout(attemptTimeoutMs);
      const signal = init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
      return fetch(input, { ...init, signal });
    },
  };
  return createTRPCClient<AppRouter>({
    links: [
      idempotencyLink<AppRouter>({
        procedures: ledgerProcedures,
        ...opts.retry,
        onRetry: opts.onRetry,
      }),
      opts.batch === false
        ? httpLink(transport)
        : httpBatchLink({ ...transport, maxItems: opts.maxBatchItems ?? 100 }),
    ],
  });
}

/** A client from {@link createLedgerClient}. */
export type LedgerClient = ReturnType<typeof createLedgerClient>;
