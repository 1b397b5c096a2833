/**
 * The fault-injecting proxy lives with the server, which also mounts it in
 * front of its own API for the web app's "flaky network" switch.
 */
export {
  FAULT_KINDS,
  type FaultKind,
  type FaultProxy,
  type FaultProxyOptions,
  type FaultProxyStats,
  startFaultProxy,
} from '@ledger/server/faultProxy';
