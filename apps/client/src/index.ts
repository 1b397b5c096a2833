/**
 * What other workspace packages (the reliability suite) use from the client
 * app: the typed ledger client, the fault-injecting proxy and the seeded
 * random numbers the demo draws its plan from.
 */
export {
  FAULT_KINDS,
  type FaultKind,
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  startFaultProxy,
} from './faultProxy';
export { createLedgerClient, type LedgerClient } from './ledgerClient';
export { randomInt, seededRandom } from './random';
