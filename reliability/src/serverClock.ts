import { fileURLToPath, pathToFileURL } from 'node:url';

/** The library's default TTL of a completed record (the example server's default too). */
export const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;
/** The library's default horizon: a completed key stays bound (a tombstone after its TTL) this long. */
export const DEFAULT_HORIZON_MS = 30 * 24 * 60 * 60 * 1000;

const clockSkewModule = fileURLToPath(new URL('./clockSkew.mjs', import.meta.url));

/**
 * Environment that starts a server process with its wall clock `skewMs` ahead
 * (a preloaded module wraps `Date.now`). A server restarted "later" this way
 * sees the dead owner's leases, or a key's TTL, as expired: the same state as
 * after waiting that long, without the wait.
 */
export function clockSkewEnv(skewMs: number): Record<string, string> {
  if (skewMs === 0) return {};
  const preload = `--import=${pathToFileURL(clockSkewModule).href}`;
  return {
    NODE_OPTIONS: [process.env['NODE_OPTIONS'], preload].filter(Boolean).join(' '),
    RELIABILITY_CLOCK_SKEW_MS: String(skewMs),
  };
}

/**
 * How a ledger server started again gets past the leases its SIGKILLed
 * predecessors left behind (lease-mode procedures: `payouts.create`; a
 * transactional one leaves no record): every generation runs with a short
 * lease (`IDEMPOTENCY_LEASE_MS`), so an orphaned record is taken over soon after.
 */
export function leaseRecoveryEnv(shortLeaseMs: number): Record<string, string> {
  return { IDEMPOTENCY_LEASE_MS: String(shortLeaseMs) };
}
