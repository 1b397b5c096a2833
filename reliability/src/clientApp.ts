/** What this suite uses from the client app (`apps/client`). */
export {
  createLedgerClient,
  type FaultKind,
  type FaultProxy,
  type LedgerClient,
  randomInt,
  seededRandom,
  startFaultProxy,
} from '@ledger/client';
