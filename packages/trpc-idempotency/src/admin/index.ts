/**
 * `trpc-idempotency/admin`: the operations on a records table that the
 * `trpc-idempotency` command runs, and the `DATABASE_URL` reader it shares
 * with applications.
 * @see README.md#operations-cli
 */
export {
  DatabaseUnavailableError,
  type IdempotencyAdmin,
  type IdempotencyStats,
  type ReleaseResult,
} from '../store/admin';
export { type DatabaseTarget, DatabaseUrlError, parseDatabaseUrl } from './databaseUrl';
export { openIdempotencyAdmin, type PgServerDriver } from './openAdmin';
