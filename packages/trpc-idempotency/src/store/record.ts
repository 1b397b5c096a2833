/**
 * The persisted state of one idempotency key. All instants are epoch
 * milliseconds (never seconds) so no conversion can slip in between layers.
 */

/** `in_progress` while a lease-mode owner executes; `completed` once the outcome is stored. */
export type IdempotencyRecordState = 'in_progress' | 'completed';

/** What a completed record replays: a result or a final (deterministic) error. */
export type StoredOutcome =
  | {
      kind: 'result' /** transformer-serialized JSON text, `null` for `undefined` */;
      body: string | null;
    }
  | { kind: 'error' /** JSON text of a {@link StoredError} */; body: string };

/** A final error as stored: enough to rethrow an identical `TRPCError`. */
export interface StoredError {
  code: string;
  message: string;
  /** Plain, JSON-safe fields of the original error's `cause`, if it had one. */
  cause?: { name: string; message: string; [field: string]: unknown };
}

/**
 * A finished step of a lease-mode execution (a recovery point): its name and
 * its result, transformer-serialized JSON text (`null` for `undefined`).
 */
export interface StoredStep {
  name: string;
  body: string | null;
}

/** Identity of a record: `(scope, key)`. */
export interface RecordId {
  scope: string;
  key: string;
}

/** A record's identity and what its key was first used with. */
export interface RecordIdentity extends RecordId {
  /** The procedure path. */
  path: string;
  /** Hash of the canonical input without the key. */
  fingerprint: string;
}

/** One row of the idempotency table, as every store returns it. */
export interface IdempotencyRecord extends RecordIdentity {
  state: IdempotencyRecordState;
  /** Whoever currently executes (in progress) or last executed (completed). */
  owner: string;
  /** 1 for the first execution, +1 for every lease take-over. */
  attempt: number;
  /** Until then no other request takes an in-progress record over. */
  leaseExpiresAt: number;
  /**
   * After this instant the record no longer exists for lookups and may be
   * purged. A completed record's TTL counts from its completion; an
   * in-progress one's from the end of its lease.
   */
  expiresAt: number;
  createdAt: number;
  /** Set when completed. */
  outcome: StoredOutcome | null;
  /** Lease mode: the steps this execution (or the one it took over) finished. */
  steps: readonly StoredStep[];
}
