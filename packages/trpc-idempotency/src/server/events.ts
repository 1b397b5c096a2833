import type { IdempotencyReason } from '../shared/reasons';

/**
 * What happened to one idempotent request: exactly one event per request that
 * reaches the idempotency step (a valid key), so events partition requests.
 * Events carry the scope and path, never the key itself, so logging them
 * leaks no key material.
 * @see README.md#events
 */
export type IdempotencyEvent =
  | (EventBase & {
      /** The handler ran and its outcome was stored. */
      type: 'executed';
      outcome: 'result' | 'error';
      attempt: number;
      /** True when this execution took over a record whose lease had expired (lease mode). */
      takenOver: boolean;
      /** Time spent waiting for another owner before executing (ms). */
      waitedMs: number;
      /** Lease mode: steps that ran in this execution, in order. */
      stepsRun: readonly string[];
      /** Lease mode: steps answered from an earlier, interrupted execution without running. */
      stepsSkipped: readonly string[];
    })
  | (EventBase & {
      /** A stored outcome was answered without running the handler (again). */
      type: 'replayed';
      outcome: 'result' | 'error';
      /** Time spent waiting for another owner to finish (ms); 0 for a plain replay. */
      waitedMs: number;
    })
  | (EventBase & {
      /**
       * Joined an execution already running in this process and got its
       * answer: its stored outcome, or (`none`) the error of a transient
       * failure that stored nothing.
       */
      type: 'joined';
      outcome: 'result' | 'error' | 'none';
    })
  | (EventBase & {
      /** Still in progress elsewhere after the wait bound: CONFLICT. */
      type: 'conflict';
      retryAfterMs: number;
    })
  | (EventBase & {
      /**
       * A retry with the same input of an operation whose response is past
       * its TTL, its tombstone kept (SPEC 3.7): answered
       * `IDEMPOTENCY_OUTCOME_EXPIRED`, never executed again.
       */
      type: 'expired';
      /** When the operation completed, epoch ms. */
      completedAt: number;
    })
  | (EventBase & {
      /** Key reused with another path or input: UNPROCESSABLE_CONTENT. */
      type: 'mismatch';
    })
  | (EventBase & {
      /** A transient failure left the key free (lease mode: released its record) so a retry executes again. */
      type: 'released';
      attempt: number;
    })
  | (EventBase & {
      /** This owner lost its lease before completing; its write was refused. */
      type: 'fenced';
      attempt: number;
    })
  | (EventBase & {
      /**
       * The request failed in the idempotency layer itself, with this reason
       * in its error: the store was unreachable or refused a statement, or
       * the outcome could not be stored (too large, not serializable) — a
       * 500; the input could not be fingerprinted — a 400; or the `scope`
       * option returned no usable scope (or threw) — a 500, with `scope` `''`.
       */
      type: 'failed';
      reason: Extract<
        IdempotencyReason,
        | 'IDEMPOTENCY_STORE_UNAVAILABLE'
        | 'IDEMPOTENCY_RESPONSE_NOT_STORABLE'
        | 'IDEMPOTENCY_INPUT_NOT_FINGERPRINTABLE'
        | 'IDEMPOTENCY_SCOPE_INVALID'
      >;
    });

interface EventBase {
  /** The scope as stored (a long scope is stored as its hash). */
  scope: string;
  path: string;
  /** From the request's arrival to its answer (ms). */
  durationMs: number;
}

/** Receives every {@link IdempotencyEvent}. Must not throw. */
export type IdempotencyEventHandler = (event: IdempotencyEvent) => void;
