export { MYSQL_MIGRATIONS_TABLE, migrateMysqlIdempotencyStore } from './migrate';
export { idempotencyRecords, type MysqlIdempotencyRow } from './schema';
export {
  type inferMysqlTransaction,
  type MysqlIdempotencyStore,
  type MysqlIdempotencyStoreOptions,
  mysqlIdempotencyStore,
} from './store';
