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
   * After this instant the record no longer exists for lookups, its key is
   * free, and it may be purged. A completed record's counts from its
   * completion (its tombstone horizon, or its TTL when it keeps no tombstone);
   * an in-progress one's from the end of its lease.
   */
  expiresAt: number;
  createdAt: number;
  /** When it completed; set on completed records. */
  completedAt?: number;
  /**
   * A completed record's response replays until this instant; from it until
   * `expiresAt` the record is a tombstone (SPEC 3.7): its key, path and
   * fingerprint stay bound, its response is never replayed, and purge drops
   * it (then `outcome` is null and this is unset). Unset on a record that
   * still has its outcome: it replays until `expiresAt` (records stored
   * without a horizon, e.g. by earlier versions). See `isTombstone`.
   */
  responseExpiresAt?: number;
  /** Set when completed; null on a tombstone whose response purge dropped. */
  outcome: StoredOutcome | null;
  /** Lease mode: the steps this execution (or the one it took over) finished. */
  steps: readonly StoredStep[];
  /**
   * W3C `traceparent` of the execution that stored the outcome, if it was
   * traced: a replay's span links to it (SPEC 12.1).
   */
  traceContext?: string;
}
