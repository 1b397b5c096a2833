import type { StoredOutcome } from '../store/record';
import type { AnyIdempotencyStore } from '../store/store';
import type { IdempotentRequest } from './run';

/** A running execution another request in this process may join. */
interface Running {
  /** Its stored outcome, or the error it answered with. */
  outcome: Promise<StoredOutcome>;
  /** Lease mode, once claimed: until when it owns its record. Written only here. */
  leaseExpiresAt: number | undefined;
  /** W3C `traceparent` of its span, if traced: a joined call's span links to it. */
  traceContext: string | undefined;
}

// Per store: two builders on one store share their running executions.
const registries = new WeakMap<AnyIdempotencyStore, Map<string, Running>>();

/**
 * Executions running in this process, so an identical duplicate joins the
 * first instead of polling the store. Keyed by path and fingerprint too: a
 * request with the same key but other input never joins (nor is refused by)
 * whatever is in flight; the store's record decides its answer, so a
 * legitimate retry is never told the key was reused by an in-flight mistake.
 */
export function createInProcessRegistry(store: AnyIdempotencyStore, clock: () => number) {
  let running = registries.get(store);
  if (!running) {
    running = new Map();
    registries.set(store, running);
  }
  const executions = running;
  const idOf = (request: IdempotentRequest) =>
    `${request.scope}\u0000${request.key}\u0000${request.path}\u0000${request.fingerprint}`;

  return {
    /**
     * The execution `request` may join. Not one whose lease has lapsed:
     * however alive it looks here, a retry may take its record over, as from
     * any other process.
     */
    find(request: IdempotentRequest): Pick<Running, 'outcome' | 'traceContext'> | undefined {
      const found = executions.get(idOf(request));
      const lease = found?.leaseExpiresAt;
      return lease !== undefined && lease <= clock() ? undefined : found;
    },
    /** Registers `request` before its first `await`, so a duplicate arriving from now on joins. */
    start(request: IdempotentRequest) {
      let settle!: { succeed: (outcome: StoredOutcome) => void; fail: (error: unknown) => void };
      const outcome = new Promise<StoredOutcome>((resolve, reject) => {
        settle = { succeed: resolve, fail: reject };
      });
      // Nobody may have joined: a rejection without listeners must not crash the process.
      outcome.catch(() => {});
      const id = idOf(request);
      const entry: Running = {
        outcome,
        leaseExpiresAt: undefined,
        traceContext: request.telemetry?.traceContext,
      };
      executions.set(id, entry);
      return {
        ...settle,
        /** Lease mode: it owns its record until `leaseExpiresAt` (claimed or renewed). */
        holdsLeaseUntil(leaseExpiresAt: number) {
          entry.leaseExpiresAt = leaseExpiresAt;
        },
        /** Unregisters it, unless a take-over in this process registered itself since. */
        end: () => {
          if (executions.get(id) === entry) executions.delete(id);
        },
      };
    },
  };
}

/** One execution registered in this process, as `start` returns it. */
export type RegisteredExecution = ReturnType<ReturnType<typeof createInProcessRegistry>['start']>;
