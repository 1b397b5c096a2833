import { fileURLToPath, pathToFileURL } from 'node:url';
import { readConfig } from '@ledger/server';

/** The library's default lease: the example server does not change it (yet). */
export const DEFAULT_LEASE_MS = 30_000;
/** The library's default TTL of a completed record. */
export const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

const clockSkewModule = fileURLToPath(new URL('./clockSkew.mjs', import.meta.url));

/** Whether the server's `readConfig` takes the environment variable `name` into account. */
function serverReads(name: string): boolean {
  const sentinel = '7654321';
  try {
    return JSON.stringify(readConfig({ [name]: sentinel })).includes(sentinel);
  } catch {
    return false;
  }
}

/**
 * Environment knobs the example server may have for the idempotency lease and
 * TTL (asked for: `IDEMPOTENCY_LEASE_MS`, `IDEMPOTENCY_TTL_MS`). Detected, so the
 * suite uses them as soon as they exist and falls back to a skewed clock before.
 */
export const serverKnobs = {
  leaseMs: serverReads('IDEMPOTENCY_LEASE_MS'),
  ttlMs: serverReads('IDEMPOTENCY_TTL_MS'),
};

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
 * How the ledger server started for the `generation`-th time (0 first) gets
 * past the leases its SIGKILLed predecessors left behind: a short real lease
 * (`IDEMPOTENCY_LEASE_MS`) when the server has the knob, else a clock that is
 * one default lease (plus a second) further ahead per generation.
 */
export function leaseRecoveryEnv(generation: number, shortLeaseMs: number): Record<string, string> {
  if (serverKnobs.leaseMs) return { IDEMPOTENCY_LEASE_MS: String(shortLeaseMs) };
  return clockSkewEnv(generation * (DEFAULT_LEASE_MS + 1000));
}

/** Which of the two {@link leaseRecoveryEnv} uses, for the report. */
export const leaseRecovery = serverKnobs.leaseMs ? 'IDEMPOTENCY_LEASE_MS' : 'clock-skew';
