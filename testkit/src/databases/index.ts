/**
 * `@ledger/testkit/databases`: fresh databases for tests (vitest) and the
 * bench. It loads vitest and the embedded Postgres, which the root entry does not.
 */

export {
  createMysqlTestDatabase,
  type MysqlServer,
  type MysqlTestDatabase,
  startMysql,
} from './mysql';
export {
  createTestDatabase,
  type PostgresServer,
  type PostgresTestDatabase,
  type StartPostgresServerOptions,
  startPostgresServer,
} from './postgres';
export { startHranaServer, startRoundTripCounter } from './roundTrips';
export {
  type DatabaseKind,
  DIALECTS,
  type Dialect,
  useFreshDatabases,
} from './useFreshDatabases';
