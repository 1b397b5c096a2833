/**
 * The ledger example server: the app factory for in-process use and the
 * router type for typed clients. The process entry is `main.ts`.
 */
export { type CloseResult, createLedgerApp, type LedgerApp, type LedgerAppOptions } from './app';
export { readConfig, type ServerConfig } from './config';
export { DatabaseUrlError, defaultDatabaseUrl, openDatabase } from './database';
export type { Account, Transfer } from './ledger';
export { createLogger, type Logger, type LogLevel } from './logger';
export type { AppRouter, LedgerContext } from './router';
