export { migrateSqliteIdempotencyStore, SQLITE_MIGRATIONS_TABLE } from './migrate';
export { idempotencyRecords, type SqliteIdempotencyRow } from './schema';
export {
  type inferSqliteTransaction,
  type SqliteIdempotencyStore,
  type SqliteIdempotencyStoreOptions,
  sqliteIdempotencyStore,
} from './store';
