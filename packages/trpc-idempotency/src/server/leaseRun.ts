import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { IdempotencyRecord, StoredOutcome, StoredStep } from '../store/record';
import { type FencedOptions, LeaseLostError } from '../store/store';
import type { LeaseIdempotencyHandle } from './handle';
import {
  completionInstants,
  type EngineOptions,
  handleOf,
  type IdempotentRequest,
  type LeaseRunResult,
} from './run';
import {
  encodeForStorage,
  isLayerFailure,
  type LayerFailure,
  type OutcomeNotStorable,
  type StoreFailure,
  viaStore,
} from './signals';

/**
 * A lease-mode execution of a record this request claimed: run the handler
 * with its lease (and the steps an earlier owner finished), then store its
 * outcome with a fenced write. A final error is stored too; anything else
 * releases the record so a retry executes again. A store failure, or an
 * outcome that cannot be stored, releases the record and is thrown.
 */
export async function runLeased(
  opts: EngineOptions,
  run: {
    request: IdempotentRequest;
    claimed: { record: IdempotencyRecord; takenOver: boolean };
    handler: (handle: LeaseIdempotencyHandle) => Promise<unknown>;
    /** Told every new end of this execution's lease (renewals), so a duplicate in this process knows it. */
    onLeaseRenewed: (leaseExpiresAt: number) => void;
  },
): Promise<LeaseRunResult> {
  const { store } = opts;
  const { request, claimed } = run;
  const { owner, attempt } = claimed.record;
  const fenced: FencedOptions = { scope: request.scope, key: request.key, owner };
  // Set by the handle when its lease is lost or the store fails: that is the
  // result, whatever the handler does with the error it got.
  let failure: LeaseLostError | LayerFailure | undefined;
  const fail = <E extends NonNullable<typeof failure>>(error: E) => {
    failure ??= error;
    return error;
  };
  // Until when this execution owns its record: claimed, then moved on by each renewal.
  let leaseExpiresAt = claimed.record.leaseExpiresAt;
  const renewLease = async () => {
    const renewedUntil = opts.clock() + opts.leaseMs;
    let renewed: boolean;
    try {
      renewed = await viaStore(() =>
        store.renewLease({
          scope: fenced.scope,
          key: fenced.key,
          owner: fenced.owner,
          leaseExpiresAt: renewedUntil,
          expiresAt: renewedUntil + opts.ttlMs,
        }),
      );
    } catch (error) {
      throw fail(error as StoreFailure);
    }
    if (!renewed) throw fail(new LeaseLostError(request));
    leaseExpiresAt = renewedUntil;
    run.onLeaseRenewed(renewedUntil);
  };
  const steps = createSteps({
    finished: claimed.record.steps,
    // A step is a side effect: never start one on a lapsed lease, which another request may have
    // taken over. Renewing (fenced) tells: still ours, and extended; or lost, and the step never runs.
    beforeRun: async () => {
      if (opts.clock() >= leaseExpiresAt) await renewLease();
    },
    encode: (value) => encodeForStorage(opts.codec.encodeValue, value),
    decode: (body) => opts.codec.decodeValue(body),
    save: async (all) => {
      const saved = await viaStore(() =>
        store.saveSteps({ scope: fenced.scope, key: fenced.key, owner: fenced.owner, steps: all }),
      );
      if (!saved) throw new LeaseLostError(request);
    },
    fail,
  });

  const leaseMembers: Pick<LeaseIdempotencyHandle, 'renewLease' | 'step'> = {
    renewLease,
    step: request.telemetry
      ? (name, fn) => request.telemetry!.step(name, fn, (run) => steps.run(name, run))
      : (name, fn) => steps.run(name, fn),
  };
  const handle: LeaseIdempotencyHandle = handleOf(request, attempt, leaseMembers);

  let outcome: StoredOutcome;
  try {
    const value = await run.handler(handle);
    await steps.idle();
    if (failure) throw failure;
    outcome = encodeForStorage(opts.codec.encodeResult, value);
  } catch (error) {
    await steps.idle();
    const cause = failure ?? error;
    if (cause instanceof LeaseLostError) return { kind: 'fenced', attempt };
    if (isLayerFailure(cause)) {
      await releaseQuietly(opts, fenced);
      throw cause;
    }
    if (!opts.isFinalError(cause)) {
      await releaseQuietly(opts, fenced);
      return { kind: 'released', attempt, error: cause };
    }
    try {
      outcome = encodeForStorage(opts.codec.encodeError, getTRPCErrorFromUnknown(cause));
    } catch (notStorable) {
      await releaseQuietly(opts, fenced);
      throw notStorable;
    }
  }

  const now = opts.clock();
  const { responseExpiresAt, expiresAt } = completionInstants(opts, now);
  const completed = await viaStore(() =>
    store.complete({
      scope: fenced.scope,
      key: fenced.key,
      owner: fenced.owner,
      outcome,
      now,
      responseExpiresAt,
      expiresAt,
      traceContext: request.telemetry?.traceContext,
    }),
  );
  // Not completed: a new owner took over after our lease ran out; its outcome is the one clients get.
  if (!completed) return { kind: 'fenced', attempt };
  return {
    kind: 'executed',
    outcome,
    attempt,
    takenOver: claimed.takenOver,
    stepsRun: steps.ran,
    stepsSkipped: steps.skipped,
  };
}

/**
 * Releasing is best effort: if the store is unreachable the record stays in
 * progress until its lease expires and a retry takes it over, which is the
 * same recovery as a crash. The request's own error is the one to report.
 */
async function releaseQuietly(opts: EngineOptions, fenced: FencedOptions) {
  try {
    await opts.store.release(fenced);
  } catch {
    // see above: the lease bounds how long the key stays blocked
  }
}

/**
 * The recovery points of one execution: each step's result is stored (fenced)
 * when it finishes, and a step an earlier owner finished answers from storage.
 */
function createSteps(opts: {
  finished: readonly StoredStep[];
  encode: (value: unknown) => string | null;
  decode: (body: string | null) => unknown;
  save: (steps: readonly StoredStep[]) => Promise<void>;
  /** Before a step runs its function: rejects if this execution may no longer run it. */
  beforeRun: () => Promise<void>;
  fail: <E extends LeaseLostError | StoreFailure | OutcomeNotStorable>(error: E) => E;
}) {
  const stored = new Map(opts.finished.map((step) => [step.name, step]));
  const order: StoredStep[] = [...opts.finished];
  const used = new Set<string>();
  const ran: string[] = [];
  const skipped: string[] = [];
  // Saves run one after another, each with every step finished so far, so
  // steps run concurrently (Promise.all) cannot overwrite each other.
  let saving: Promise<void> = Promise.resolve();

  return {
    ran,
    skipped,
    /** Resolves once no save is in flight. */
    idle: () => saving,
    async run<T>(name: string, fn: () => T | Promise<T>): Promise<Awaited<T>> {
      if (typeof name !== 'string' || name === '') {
        throw new TypeError('ctx.idempotency.step(name, fn): name must be a non-empty string');
      }
      if (used.has(name)) {
        throw new Error(
          `ctx.idempotency.step: a step named "${name}" already ran in this execution; step names must be unique`,
        );
      }
      used.add(name);
      const earlier = stored.get(name);
      if (earlier) {
        skipped.push(name);
        return opts.decode(earlier.body) as Awaited<T>;
      }
      await opts.beforeRun();
      const value = await fn();
      let body: string | null;
      try {
        body = opts.encode(value);
      } catch (error) {
        throw opts.fail(error as OutcomeNotStorable);
      }
      const step = { name, body };
      stored.set(name, step);
      order.push(step);
      const snapshot = [...order];
      const saved = saving.then(() => opts.save(snapshot));
      saving = saved.catch(() => {});
      try {
        await saved;
      } catch (error) {
        throw opts.fail(error as LeaseLostError | StoreFailure);
      }
      ran.push(name);
      return opts.decode(body) as Awaited<T>;
    },
  };
}
