/**
 * What this suite uses from the client app (`apps/client`). `@ledger/client`
 * has no `exports` yet, so these are imported by relative path: a stopgap,
 * kept in this one file so it is a one-line change once the package exports them.
 */
export { type FaultKind, type FaultProxy, startFaultProxy } from '../../apps/client/src/faultProxy';
export { createLedgerClient, type LedgerClient } from '../../apps/client/src/ledgerClient';
export { randomInt, seededRandom } from '../../apps/client/src/random';
