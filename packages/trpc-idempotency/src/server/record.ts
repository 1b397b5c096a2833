/**
 * The persisted state of one idempotency key. All instants are epoch
 * milliseconds (never seconds) so no conversion can slip in between layers.
 */

/** `in_progress` while an owner executes; `completed` once the outcome is stored. */
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

/** Identity of a record: `(scope, key)`. */
export interface RecordId {
  scope: string;
  key: string;
}

/** One row of the idempotency table, as every store returns it. */
export interface IdempotencyRecord extends RecordId {
  /** The procedure path the key was first used with. */
  path: string;
  /** Hash of the canonical input without the key. */
  fingerprint: string;
  state: IdempotencyRecordState;
  /** Whoever currently executes (in progress) or last executed (completed). */
  owner: string;
  /** 1 for the first execution, +1 for every lease take-over. */
  attempt: number;
  leaseExpiresAt: number;
  /** After this instant the record no longer exists for lookups. */
  expiresAt: number;
  createdAt: number;
  /** Set when completed. */
  outcome: StoredOutcome | null;
}
