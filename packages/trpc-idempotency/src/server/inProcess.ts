import type { StoredOutcome } from '../store/record';
import type { AnyIdempotencyStore } from '../store/store';
import type { IdempotentRequest } from './run';

/** A running execution another request in this process may join. */
interface Running {
  /** Its stored outcome, or the error it answered with. */
  readonly outcome: Promise<StoredOutcome>;
  /** Lease mode, once claimed: until when it owns its record. Written only here. */
  readonly leaseExpiresAt: number | undefined;
  /** W3C `traceparent` of its span, if traced: a joined call's span links to it. */
  readonly traceContext: string | undefined;
}

/**
 * One execution registered in this process. Its outcome's promise is made
 * only when a duplicate joins, which few requests meet: every request
 * registers, and a promise, its resolvers and its rejection handler cost
 * more than the rest of the registry (BENCHMARKS.md).
 */
class Execution implements Running {
  leaseExpiresAt: number | undefined = undefined;
  #outcome: Promise<StoredOutcome> | undefined;
  #resolve: ((outcome: StoredOutcome) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  /** How it ended, when it ended before any duplicate asked. */
  #ended: { outcome: StoredOutcome } | { error: unknown } | undefined;

  constructor(
    private readonly executions: Map<string, Running>,
    private readonly id: string,
    readonly traceContext: string | undefined,
  ) {}

  get outcome(): Promise<StoredOutcome> {
    if (!this.#outcome) {
      const ended = this.#ended;
      this.#outcome = ended
        ? 'outcome' in ended
          ? Promise.resolve(ended.outcome)
          : Promise.reject(ended.error)
        : new Promise<StoredOutcome>((resolve, reject) => {
            this.#resolve = resolve;
            this.#reject = reject;
          });
      // A joiner may have stopped waiting: a rejection without listeners must not crash the process.
      this.#outcome.catch(() => {});
    }
    return this.#outcome;
  }

  succeed(outcome: StoredOutcome) {
    this.#ended = { outcome };
    this.#resolve?.(outcome);
  }

  fail(error: unknown) {
    this.#ended = { error };
    this.#reject?.(error);
  }

  /** Lease mode: it owns its record until `leaseExpiresAt` (claimed or renewed). */
  holdsLeaseUntil = (leaseExpiresAt: number) => {
    this.leaseExpiresAt = leaseExpiresAt;
  };

  /** Unregisters it, unless a take-over in this process registered itself since. */
  end() {
    if (this.executions.get(this.id) === this) this.executions.delete(this.id);
  }
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
    start(request: IdempotentRequest): RegisteredExecution {
      const id = idOf(request);
      const execution = new Execution(executions, id, request.telemetry?.traceContext);
      executions.set(id, execution);
      return execution;
    },
  };
}

/** One execution registered in this process, as `start` returns it. */
export type RegisteredExecution = Pick<Execution, 'succeed' | 'fail' | 'holdsLeaseUntil' | 'end'>;
