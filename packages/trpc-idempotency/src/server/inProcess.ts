import type { StoredOutcome } from '../store/record';
import type { AnyIdempotencyStore } from '../store/store';

/** What the registry knows of a running execution. */
export interface RunningRequest {
  scope: string;
  key: string;
  path: string;
  fingerprint: string;
  /** Lease mode, once claimed: until when this execution owns its record. */
  leaseExpiresAt?: number;
}

interface Running {
  request: RunningRequest;
  outcome: Promise<StoredOutcome>;
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
  const idOf = (call: RunningRequest) =>
    `${call.scope}\u0000${call.key}\u0000${call.path}\u0000${call.fingerprint}`;

  return {
    /**
     * The execution `call` may join. Not one whose lease has lapsed: however
     * alive it looks here, a retry may take its record over, as from any
     * other process.
     */
    find(call: RunningRequest): Running | undefined {
      const found = executions.get(idOf(call));
      const lease = found?.request.leaseExpiresAt;
      return lease !== undefined && lease <= clock() ? undefined : found;
    },
    /** Registers `request` before its first `await`, so a duplicate arriving from now on joins. */
    start(request: RunningRequest) {
      let settle!: { succeed: (outcome: StoredOutcome) => void; fail: (error: unknown) => void };
      const outcome = new Promise<StoredOutcome>((resolve, reject) => {
        settle = { succeed: resolve, fail: reject };
      });
      // Nobody may have joined: a rejection without listeners must not crash the process.
      outcome.catch(() => {});
      const id = idOf(request);
      const entry = { request, outcome };
      executions.set(id, entry);
      return {
        ...settle,
        /** Unregisters it, unless a take-over in this process registered itself since. */
        end: () => {
          if (executions.get(id) === entry) executions.delete(id);
        },
      };
    },
  };
}
