import type { InFlightOptions } from 'trpc-idempotency';
import { defaultDatabaseUrl } from './database';
import { type LogLevel, parseLogLevel } from './logger';
import { PAYOUT_PAUSE_POINTS, type PayoutPausePoint } from './payouts';
import type { PgDriverName } from './pg/database';

/** The server's settings, read from the environment. */
export interface ServerConfig {
  port: number;
  host: string;
  databaseUrl: string;
  busyTimeoutMs: number;
  poolSize: number;
  pgLockTimeoutMs: number;
  /** Postgres: the driver, node-postgres (`pg`) or postgres.js (`postgres`). */
  pgDriver: PgDriverName;
  logLevel: LogLevel;
  transferDelayMs: number;
  inFlight: InFlightOptions;
  /** How long an execution owns its key before another request may take it over, in ms. */
  leaseMs: number;
  /** How long a completed key is replayed, in ms. */
  ttlMs: number;
  /** How long a completed key stays bound (a tombstone after its TTL), in ms; at least `ttlMs`. */
  horizonMs: number;
  /** The most calls one HTTP batch may carry. */
  maxBatchSize: number;
  shutdownTimeoutMs: number;
  /** The payout gateway's base URL; without it `payouts.create` answers 501. */
  payoutGatewayUrl: string | undefined;
  /** How long a payout waits for the gateway's answer, in ms. */
  payoutGatewayTimeoutMs: number;
  /** Fault hook: how long a payout pauses at each of `payoutDelayAt`, in ms. */
  payoutDelayMs: number;
  payoutDelayAt: PayoutPausePoint[];
}

/** The library's defaults: a 30 s lease, and replays for 24 hours. */
const DEFAULT_LEASE_MS = 30_000;
const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;
/** The library's default horizon: 30 days (or the TTL, if longer). */
const DEFAULT_HORIZON_MS = 30 * 24 * 60 * 60 * 1000;
/**
 * The most calls one HTTP batch may carry, unless `TRPC_MAX_BATCH_SIZE` says
 * otherwise: without a limit one request of 1 MiB could carry about 12 000
 * mutations. tRPC refuses a larger batch (400) before any of its calls runs.
 */
export const DEFAULT_MAX_BATCH_SIZE = 100;
/** The longest lease or TTL accepted: ten years, far inside the range of exact epoch milliseconds. */
const MAX_DURATION_MS = 10 * 365 * 24 * 60 * 60 * 1000;

/** Thrown for an environment variable with an unusable value. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads the environment (the contract in README.md#running-it, plus knobs for tests):
 * - `PORT` (default 3000; 0 picks a free port), `HOST` (default 127.0.0.1)
 * - `DATABASE_URL` (default `data/ledger.db` at the repository root)
 * - `SQLITE_BUSY_TIMEOUT_MS` (default 5000): how long SQLite waits for another
 *   process's write lock before the request fails with a 500 (and may be retried)
 * - `DATABASE_POOL_SIZE` (default 10): Postgres connections per process; one
 *   per execution in flight
 * - `PG_LOCK_TIMEOUT_MS` (default 5000): how long a transfer on Postgres waits
 *   for its accounts' row locks before the request fails with a 500
 * - `LOG_LEVEL`: debug, info (default), warn, error, silent
 * - `LEDGER_TRANSFER_DELAY_MS` (default 0): fault hook, see the README
 * - `IDEMPOTENCY_WAIT_MS` (default 5000): how long a duplicate waits for a key
 *   in progress in another process before answering 409
 * - `IDEMPOTENCY_RETRY_AFTER_MS` (default 1000): the most a 409 asks clients to wait
 * - `IDEMPOTENCY_LEASE_MS` (default 30000): how long an execution owns its key;
 *   after it, a retry of a crashed execution may take the key over and execute
 * - `IDEMPOTENCY_TTL_MS` (default 86400000, 24 hours): how long a completed key
 *   is replayed (an execution in progress keeps its key for its whole lease,
 *   even past a shorter TTL)
 * - `IDEMPOTENCY_HORIZON_MS` (default 2592000000, 30 days, or the TTL if
 *   longer; never below it): how long a completed key stays bound; between the
 *   TTL and the horizon a retry answers `IDEMPOTENCY_OUTCOME_EXPIRED`
 * - `TRPC_MAX_BATCH_SIZE` (default 100): the most calls one HTTP batch may
 *   carry; a larger batch gets a 400 and none of its calls runs
 * - `SHUTDOWN_TIMEOUT_MS` (default 10000): how long a stop waits for in-flight requests
 * - `PAYOUT_GATEWAY_URL` (no default): the payout gateway's http(s) base URL;
 *   without it `payouts.create` answers 501
 * - `PAYOUT_GATEWAY_TIMEOUT_MS` (default 10000): how long a payout waits for the gateway
 * - `LEDGER_PAYOUT_DELAY_MS` (default 0) and `LEDGER_PAYOUT_DELAY_AT` (default
 *   every point, comma-separated): fault hook, see the README
 */
export function readConfig(env: Record<string, string | undefined>): ServerConfig {
  const leaseMs = integer(env, 'IDEMPOTENCY_LEASE_MS', {
    fallback: DEFAULT_LEASE_MS,
    min: 1,
    max: MAX_DURATION_MS,
  });
  const ttlMs = integer(env, 'IDEMPOTENCY_TTL_MS', {
    fallback: DEFAULT_TTL_MS,
    min: 1,
    max: MAX_DURATION_MS,
  });
  const horizonMs = integer(env, 'IDEMPOTENCY_HORIZON_MS', {
    fallback: Math.max(DEFAULT_HORIZON_MS, ttlMs),
    min: 1,
    max: MAX_DURATION_MS,
  });
  if (horizonMs < ttlMs) {
    throw new ConfigError(
      `IDEMPOTENCY_HORIZON_MS (${horizonMs}) must be at least IDEMPOTENCY_TTL_MS (${ttlMs}): a key must stay bound as long as its answer is replayed`,
    );
  }
  return {
    port: integer(env, 'PORT', { fallback: 3000, max: 65_535 }),
    host: nonEmpty(env['HOST']) ?? '127.0.0.1',
    databaseUrl: nonEmpty(env['DATABASE_URL']) ?? defaultDatabaseUrl(),
    busyTimeoutMs: integer(env, 'SQLITE_BUSY_TIMEOUT_MS', { fallback: 5000 }),
    poolSize: integer(env, 'DATABASE_POOL_SIZE', { fallback: 10, min: 1, max: 10_000 }),
    // 0 would mean "no limit" to Postgres.
    pgLockTimeoutMs: integer(env, 'PG_LOCK_TIMEOUT_MS', {
      fallback: 5000,
      min: 1,
      max: 2_147_483_647,
    }),
    pgDriver: pgDriver(env, 'PG_DRIVER'),
    logLevel: parseLogLevel(nonEmpty(env['LOG_LEVEL'])),
    transferDelayMs: integer(env, 'LEDGER_TRANSFER_DELAY_MS', { fallback: 0 }),
    inFlight: {
      timeoutMs: integer(env, 'IDEMPOTENCY_WAIT_MS', { fallback: 5000 }),
      retryAfterMs: integer(env, 'IDEMPOTENCY_RETRY_AFTER_MS', { fallback: 1000, min: 1 }),
    },
    leaseMs,
    ttlMs,
    horizonMs,
    maxBatchSize: integer(env, 'TRPC_MAX_BATCH_SIZE', {
      fallback: DEFAULT_MAX_BATCH_SIZE,
      min: 1,
      max: 10_000,
    }),
    shutdownTimeoutMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', { fallback: 10_000 }),
    payoutGatewayUrl: httpUrl(env, 'PAYOUT_GATEWAY_URL'),
    payoutGatewayTimeoutMs: integer(env, 'PAYOUT_GATEWAY_TIMEOUT_MS', {
      fallback: 10_000,
      min: 1,
      max: 2_147_483_647,
    }),
    payoutDelayMs: integer(env, 'LEDGER_PAYOUT_DELAY_MS', { fallback: 0, max: 2_147_483_647 }),
    payoutDelayAt: pausePoints(env, 'LEDGER_PAYOUT_DELAY_AT'),
  };
}

/** node-postgres (the default) or postgres.js. */
function pgDriver(env: Record<string, string | undefined>, name: string): PgDriverName {
  const raw = nonEmpty(env[name]) ?? 'node-postgres';
  if (raw !== 'node-postgres' && raw !== 'postgres.js') {
    throw new ConfigError(`${name} must be node-postgres or postgres.js; got ${raw}`);
  }
  return raw;
}

/** An absolute http: or https: URL, or undefined when the variable is unset or blank. */
function httpUrl(env: Record<string, string | undefined>, name: string) {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError(`${name} must be an http:// or https:// URL; got ${raw}`);
  }
  return raw;
}

/** A comma-separated list of payout pause points; every point when unset or blank. */
function pausePoints(env: Record<string, string | undefined>, name: string): PayoutPausePoint[] {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return [...PAYOUT_PAUSE_POINTS];
  const known: readonly string[] = PAYOUT_PAUSE_POINTS;
  const points = raw
    .split(',')
    .map((point) => point.trim())
    .filter((point) => point !== '');
  const unknown = points.filter((point) => !known.includes(point));
  if (unknown.length > 0) {
    throw new ConfigError(
      `${name} must list points among ${PAYOUT_PAUSE_POINTS.join(', ')}; got ${unknown.join(', ')}`,
    );
  }
  return points as PayoutPausePoint[];
}

function nonEmpty(value: string | undefined) {
  const trimmed = value?.trim();
  return trimmed === '' ? undefined : trimmed;
}

function integer(
  env: Record<string, string | undefined>,
  name: string,
  opts: { fallback: number; min?: number; max?: number },
) {
  const raw = nonEmpty(env[name]);
  if (raw === undefined) return opts.fallback;
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}; got ${raw}`);
  }
  return value;
}
