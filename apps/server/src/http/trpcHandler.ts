import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { idempotencyResponseHeaders } from 'trpc-idempotency';
import { causesOf, isInternalError, requestIdOf } from '../internalError';
import type { Logger } from '../logger';
import { createContext, type createLedgerRouter } from '../router';

/**
 * tRPC's HTTP handler for the ledger's router at `/trpc/`: the body and batch
 * limits, the idempotency response headers, and a log line per error (a
 * 5xx's causes and stack at `error`, a refusal at `debug`).
 */
export function createLedgerTrpcHandler(opts: {
  router: ReturnType<typeof createLedgerRouter>;
  logger: Logger;
  maxBodySize: number;
  maxBatchSize: number;
}) {
  const { logger } = opts;
  return createHTTPHandler({
    router: opts.router,
    basePath: '/trpc/',
    createContext,
    maxBodySize: opts.maxBodySize,
    // Checked on the URL's paths, before the body is parsed, a context is made or any call runs.
    maxBatchSize: opts.maxBatchSize,
    // `Idempotent-Replayed: true` on a replayed response, `Retry-After` on an in-progress 409.
    responseMeta: (meta) => ({ headers: idempotencyResponseHeaders(meta) }),
    onError({ error, path }) {
      const fields = { path, code: error.code, message: error.message };
      if (getHTTPStatusCodeFromError(error) >= 500) {
        const requestId = isInternalError(error) ? requestIdOf(error) : undefined;
        const causes = causesOf(error);
        logger.error('request failed', {
          ...fields,
          requestId,
          causes,
          stack: error.cause?.stack ?? error.stack,
        });
      } else {
        logger.debug('rejected', fields);
      }
    },
  });
}
