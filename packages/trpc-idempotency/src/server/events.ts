/**
 * What happened to one idempotent request. Events carry the scope and path,
 * never the key itself, so logging them leaks no key material.
 * @see README.md#events
 */
export type IdempotencyEvent =
  | (EventBase & {
      /** The handler ran and its outcome was stored. */
      type: 'executed';
      outcome: 'result' | 'error';
      attempt: number;
      /** True when this execution took over a record whose lease had expired. */
      takenOver: boolean;
      /** Time spent waiting for another owner before executing (ms). */
      waitedMs: number;
    })
  | (EventBase & {
      /** A stored outcome was answered without running the handler. */
      type: 'replayed';
      outcome: 'result' | 'error';
      /** Time spent waiting for another owner to finish (ms); 0 for a plain replay. */
      waitedMs: number;
    })
  | (EventBase & {
      /** Joined an execution already running in this process and got its outcome. */
      type: 'joined';
    })
  | (EventBase & {
      /** Still in progress elsewhere after the wait bound: CONFLICT. */
      type: 'conflict';
      retryAfterMs: number;
    })
  | (EventBase & {
      /** Key reused with another path or input: UNPROCESSABLE_CONTENT. */
      type: 'mismatch';
    })
  | (EventBase & {
      /** A transient failure released the record so a retry executes again. */
      type: 'released';
      attempt: number;
    })
  | (EventBase & {
      /** This owner lost its lease before completing; its write was refused. */
      type: 'fenced';
      attempt: number;
    });

interface EventBase {
  scope: string;
  path: string;
  /** From the request's arrival to its answer (ms). */
  durationMs: number;
}

/** Receives every {@link IdempotencyEvent}. Must not throw. */
export type IdempotencyEventHandler = (event: IdempotencyEvent) => void;
