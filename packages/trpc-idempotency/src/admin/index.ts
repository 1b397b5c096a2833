/**
 * `trpc-idempotency/admin`: the operations on a records table that the
 * `trpc-idempotency` command runs, and the `DATABASE_URL` reader it shares
 * with applications.
 * @see README.md#operations-cli
 */
export type { IdempotencyAdmin, IdempotencyStats, ReleaseResult } from './admin';
export { type DatabaseTarget, DatabaseUrlError, parseDatabaseUrl } from './databaseUrl';
export { DatabaseUnavailableError } from './errors';
export { openIdempotencyAdmin } from './openAdmin';
