/**
 * `@ledger/testkit`: what the example apps' tests, the reliability suite, the
 * bench and the demos share. This entry loads neither vitest nor an embedded
 * Postgres, so the CLI demo and the server's `/flaky` route use it at run
 * time; fresh databases are `@ledger/testkit/databases`. See
 * docs/ARCHITECTURE.md, "The apps around the library".
 */

export {
  type FakeGateway,
  type FakeGatewayOptions,
  type GatewayCall,
  type GatewayPayment,
  startFakeGateway,
} from './gateway/fakeGateway';
export { newKey } from './keys';
export { auditLedger } from './ledger/audit';
export {
  type Answer,
  answerOf,
  answerOfClientError,
  type CallRecord,
  type ObservedCall,
  type SettledCall,
} from './ledger/calls';
export {
  checkPayoutRun,
  type InProgressPayout,
  type KillSnapshot,
  PAYOUT_STEPS,
  type PayoutInput,
  type PayoutRunCheck,
  type Stage,
} from './ledger/payoutRun';
export { type LedgerSnapshot, readLedger, readLedgerFile, recordId } from './ledger/snapshot';
export { checkTransferRun, type TransferInput } from './ledger/transferRun';
export {
  FAULT_KINDS,
  type FaultKind,
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  startFaultProxy,
} from './network/faultProxy';
export { endToEndHeaders } from './network/forwarding';
export {
  type LatencyProxy,
  type LatencyProxyOptions,
  startLatencyProxy,
} from './network/latencyProxy';
export { proceduresInFlight, waitForInFlight } from './processes/inFlight';
export {
  type LedgerServerProcess,
  type ServerExit,
  type StartLedgerServerOptions,
  startLedgerServer,
} from './processes/ledgerServer';
export { type LogLine, type ProcessExit, spawnLoggedProcess } from './processes/loggedProcess';
export { randomInt, seededRandom } from './random';
export { type TempDir, type TempSqliteFile, tempDir, tempSqliteFile } from './tempFiles';
