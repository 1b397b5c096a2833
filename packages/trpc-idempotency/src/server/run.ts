/**
 * What the engine (`engine.ts`) and its two runs (`transactionalRun.ts`,
 * `leaseRun.ts`) share: the options, the request they work on, and the
 * result a run ends in. A run never answers: it returns a {@link RunResult}
 * (or throws a store failure) and the engine's `settle` answers.
 */
import { createHash } from 'node:crypto';
import type { IdempotencyRecord, StoredOutcome } from '../store/record';
import type { AnyIdempotencyStore } from '../store/store';
import type { IdempotencyEventHandler } from './events';
import type { IdempotencyHandle } from './handle';
import type { OutcomeCodec } from './outcome';
import { hashableText, recordScope } from './recordScope';
import type { CallTelemetry, Telemetry } from './telemetry';

/**
 * What a request does when its key is in progress elsewhere.
 * @see README.md#options
 */
export interface InFlightOptions {
  /** `wait` (default): wait for the running execution, up to `timeoutMs`; `reject`: CONFLICT at once. */
  policy?: 'wait' | 'reject';
  /** Longest wait for another execution, in ms. Default 5000. */
  timeoutMs?: number;
  /** Upper bound of the `retryAfterMs` hint in a CONFLICT, in ms. Default 1000. */
  retryAfterMs?: number;
}

/** Everything the engine needs, resolved from the builder's options. */
export interface EngineOptions {
  store: AnyIdempotencyStore;
  mode: 'transactional' | 'lease';
  codec: OutcomeCodec;
  clock: () => number;
  /** How long a completed record's response is replayed. */
  ttlMs: number;
  /** How long a completed record keeps its key bound (a tombstone after `ttlMs`); ≥ `ttlMs`. */
  horizonMs: number;
  leaseMs: number;
  inFlight: Required<InFlightOptions>;
  isFinalError: (error: unknown) => boolean;
  onEvent: IdempotencyEventHandler | undefined;
  /** OpenTelemetry spans and metrics (README.md#opentelemetry); none without. */
  telemetry?: Telemetry | undefined;
}

/**
 * One idempotent request on its way through the engine. Nothing writes to
 * it after it is made: what the request learns on the way (that it waited,
 * how long its lease runs) is kept by the one function that learns it.
 */
export interface IdempotentRequest {
  /** The scope as records store it (a long scope is hashed, `recordScope.ts`). */
  readonly scope: string;
  /** The scope as the `scope` option returned it: what the handle shows. */
  readonly callerScope: string;
  readonly key: string;
  readonly path: string;
  readonly fingerprint: string;
  /** `performance.now()` at arrival: wait bounds and event durations count from it. */
  readonly arrivedAt: number;
  /** Its span and metrics, when OpenTelemetry records (README.md#opentelemetry). */
  readonly telemetry?: CallTelemetry | undefined;
}

/**
 * How a run ended; a store failure, or an outcome that cannot be stored, is
 * thrown instead (`signals.ts`).
 * - `executed`: the handler ran and its outcome is stored;
 * - `released`: a transient handler error left the key free (README.md#errors);
 * - `held` (transactional): a live record held the key when the run wrote;
 * - `busy` (transactional): a concurrent uncommitted execution held it past the wait bound;
 * - `fenced` (lease): the run lost its lease, and its write was refused.
 */
export type RunResult =
  | {
      kind: 'executed';
      outcome: StoredOutcome;
      attempt: number;
      takenOver: boolean;
      stepsRun: readonly string[];
      stepsSkipped: readonly string[];
    }
  | { kind: 'released'; attempt: number; error: unknown }
  | { kind: 'held'; record: IdempotencyRecord }
  | { kind: 'busy' }
  | { kind: 'fenced'; attempt: number };

/** How a transactional run ends. */
export type TransactionalRunResult = Extract<
  RunResult,
  { kind: 'executed' | 'released' | 'held' | 'busy' }
>;

/** How a lease-mode run ends. */
export type LeaseRunResult = Extract<RunResult, { kind: 'executed' | 'released' | 'fenced' }>;

/**
 * The instants a write that completes a record at `now` stores: its response
 * replays for the TTL, then the record stays a tombstone until the horizon
 * (SPEC 3.7).
 */
export function completionInstants(opts: EngineOptions, now: number) {
  return { responseExpiresAt: now + opts.ttlMs, expiresAt: now + opts.horizonMs };
}

/**
 * The request of a call arriving now, as the builder identified and
 * fingerprinted it; `scope` is what the `scope` option returned.
 */
export function idempotentRequest(call: {
  scope: string;
  key: string;
  path: string;
  fingerprint: string;
  /** `performance.now()` when the call reached the idempotency step; default now. */
  arrivedAt?: number;
}): IdempotentRequest {
  return {
    scope: recordScope(call.scope),
    callerScope: call.scope,
    key: call.key,
    path: call.path,
    fingerprint: call.fingerprint,
    arrivedAt: call.arrivedAt ?? performance.now(),
    // Declared, so a traced call's copy with it set makes no new hidden class (recordRow.ts).
    telemetry: undefined,
  };
}

/** How long `request` may still wait for another execution, in ms. */
export function remainingWaitMs(opts: EngineOptions, request: IdempotentRequest): number {
  if (opts.inFlight.policy === 'reject') return 0;
  return Math.max(0, opts.inFlight.timeoutMs - (performance.now() - request.arrivedAt));
}

/** A mode's `ctx.idempotency`: the members every mode has, and the mode's own. */
export function handleOf<TMode extends object>(
  request: IdempotentRequest,
  attempt: number,
  mode: TMode,
): IdempotencyHandle & TMode {
  return {
    key: request.key,
    scope: request.callerScope,
    attempt,
    downstreamKey: (name: string) =>
      createHash('sha256')
        // Lossless for any string: scopes that differ only in a lone surrogate stay apart.
        .update(hashableText(`${request.callerScope}\u0000${request.key}\u0000${name}`))
        .digest('base64url'),
    ...mode,
  };
}
