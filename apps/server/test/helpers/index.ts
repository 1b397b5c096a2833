/**
 * Test helpers of the ledger server, shared with the client app as
 * `@ledger/server/testing`: spawn the real server process, and read what it
 * committed to its database (a SQLite file or Postgres).
 */

export { DIALECTS, type Dialect, useFreshDatabases } from './databases';
export {
  type FakeGateway,
  type FakeGatewayOptions,
  type GatewayCall,
  type GatewayPayment,
  startFakeGateway,
} from './fakeGateway';
export { proceduresInFlight, waitForInFlight } from './inFlight';
export { newKey } from './keys';
export {
  holdWriteLock,
  readLedger,
  serverSessions,
} from './ledgerDatabase';
export { auditLedger, type LedgerFileSnapshot, readLedgerFile } from './ledgerFile';
export {
  type LedgerServerProcess,
  type LogLine,
  type ServerExit,
  type StartLedgerServerOptions,
  startLedgerServer,
} from './ledgerServer';
export { type ProcessExit, spawnLoggedProcess } from './loggedProcess';
