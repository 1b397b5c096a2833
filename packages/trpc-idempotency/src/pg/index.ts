export { UnsupportedDriverError } from '../drizzle/unsupportedDriver';
export { migratePgIdempotencyStore, PG_MIGRATIONS_TABLE } from './migrate';
export { idempotencyRecords, type PgIdempotencyRow } from './schema';
export {
  type inferPgTransaction,
  type PgIdempotencyStore,
  type PgIdempotencyStoreOptions,
  pgIdempotencyStore,
} from './store';
