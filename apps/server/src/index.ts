/**
 * The ledger example server: the app factory for in-process use and the
 * router type for typed clients. The process entry is `main.ts`.
 */
export {
  type CloseResult,
  createLedgerApp,
  type LedgerApp,
  type LedgerAppOptions,
  openLedgerApp,
} from './app';
export { readConfig, type ServerConfig } from './config';
export {
  DatabaseUrlError,
  databaseKind,
  defaultDatabaseUrl,
  type OpenDatabase,
  type OpenDatabaseOptions,
  type OpenNodePostgresDatabase,
  type OpenPostgresDatabase,
  type OpenPostgresJsDatabase,
  type OpenSqliteDatabase,
  openDatabase,
  type PgDriverName,
} from './database';
export {
  type Account,
  assertTransferPossible,
  type Ledger,
  type LedgerExecution,
  newId,
  type Payout,
  type PayoutHold,
  type PayoutRequest,
  type Transfer,
  type TransferRequest,
  toTransfer,
} from './ledger';
export { createLogger, type Logger, type LogLevel } from './logger';
export { createMetrics, type Metrics } from './metrics';
export {
  httpPayoutGateway,
  type PayoutGateway,
  type PayoutGatewayAnswer,
  PayoutGatewayError,
  type PayoutGatewayRequest,
} from './payoutGateway';
export { PAYOUT_PAUSE_POINTS, type PayoutPausePoint } from './payouts';
export { PG_APPLICATION_NAME, pgMigrationsFolder } from './pg/database';
/**
 * The ledger on a Postgres database opened elsewhere (any Drizzle Postgres
 * driver, e.g. PGlite), with `pgMigrationsFolder`: the benchmarks.
 */
export { createPgLedger } from './pg/ledger';
export type { AppRouter, LedgerContext } from './router';
export { sqliteMigrationsFolder } from './sqlite/database';
/** The ledger's SQLite tables (Drizzle), for code that queries them: the benchmarks. */
export * as sqliteSchema from './sqlite/schema';
export {
  createWebApp,
  defaultWebRoot,
  FLAKY_PREFIX,
  type WebApp,
  type WebAppOptions,
} from './webApp';
