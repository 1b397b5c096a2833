import { getTRPCErrorFromUnknown } from '@trpc/server';
import type { IdempotencyRecord, StoredOutcome, StoredStep } from '../store/record';
import { type FencedOptions, LeaseLostError } from '../store/store';
import {
  type ExecutionContext,
  encodeForStorage,
  OutcomeNotStorable,
  type Request,
  type Settlement,
  StoreFailure,
} from './execution';
import type { LeaseIdempotencyHandle } from './handle';

/**
 * A lease-mode execution of a record this request claimed: run the handler
 * with its lease (and the steps an earlier owner finished), then store its
 * outcome with a fenced write. A final error is stored too; anything else
 * releases the record so a retry executes again.
 */
export async function runLeased(
  context: ExecutionContext,
  request: Request,
  claimed: { record: IdempotencyRecord; takenOver: boolean },
  handler: (handle: LeaseIdempotencyHandle) => Promise<unknown>,
): Promise<Settlement> {
  const { opts, store } = context;
  const { owner, attempt } = claimed.record;
  const fenced: FencedOptions = { scope: request.scope, key: request.key, owner };
  request.leaseExpiresAt = claimed.record.leaseExpiresAt;
  // Set by the handle when its lease is lost or the store fails: that is the
  // answer, whatever the handler does with the error it got.
  let failure: LeaseLostError | StoreFailure | OutcomeNotStorable | undefined;
  const fail = <E extends NonNullable<typeof failure>>(error: E) => {
    failure ??= error;
    return error;
  };
  const steps = createSteps({
    finished: claimed.record.steps,
    encode: (value) => encodeForStorage(() => opts.codec.encodeValue(value)),
    decode: (body) => opts.codec.decodeValue(body),
    save: async (all) => {
      const saved = await context.viaStore(() => store.saveSteps({ ...fenced, steps: all }));
      if (!saved) throw new LeaseLostError(request);
    },
    fail,
  });

  const handle: LeaseIdempotencyHandle = {
    key: request.key,
    scope: request.callerScope,
    attempt,
    downstreamKey: (name) => context.downstreamKey(request, name),
    async renewLease() {
      const leaseExpiresAt = opts.clock() + opts.leaseMs;
      let renewed: boolean;
      try {
        renewed = await context.viaStore(() =>
          store.renewLease({ ...fenced, leaseExpiresAt, expiresAt: leaseExpiresAt + opts.ttlMs }),
        );
      } catch (error) {
        throw fail(error as StoreFailure);
      }
      if (!renewed) throw fail(new LeaseLostError(request));
      request.leaseExpiresAt = leaseExpiresAt;
    },
    step: (name, fn) => steps.run(name, fn),
  };

  const run = {
    attempt,
    takenOver: claimed.takenOver,
    stepsRun: steps.ran,
    stepsSkipped: steps.skipped,
  };
  let outcome: StoredOutcome;
  try {
    const value = await handler(handle);
    await steps.idle();
    if (failure) throw failure;
    outcome = encodeForStorage(() => opts.codec.encodeResult(value));
  } catch (error) {
    await steps.idle();
    const cause = failure ?? error;
    if (cause instanceof LeaseLostError) throw context.fenced(request, attempt);
    if (
      cause instanceof StoreFailure ||
      cause instanceof OutcomeNotStorable ||
      !opts.isFinalError(cause)
    ) {
      await releaseQuietly(context, fenced);
      if (!(cause instanceof StoreFailure || cause instanceof OutcomeNotStorable)) {
        context.event(request, 'released', { attempt });
      }
      throw cause;
    }
    try {
      outcome = encodeForStorage(() => opts.codec.encodeError(getTRPCErrorFromUnknown(cause)));
    } catch (notStorable) {
      await releaseQuietly(context, fenced);
      throw notStorable;
    }
  }

  const now = opts.clock();
  const completed = await context.viaStore(() =>
    store.complete({ ...fenced, outcome, now, expiresAt: now + opts.ttlMs }),
  );
  if (!completed) {
    // A new owner took over after our lease ran out: its outcome is the one clients get.
    throw context.fenced(request, attempt);
  }
  return context.executed(request, outcome, run);
}

/**
 * Releasing is best effort: if the store is unreachable the record stays in
 * progress until its lease expires and a retry takes it over, which is the
 * same recovery as a crash. The request's own error is the one to report.
 */
async function releaseQuietly(context: ExecutionContext, fenced: FencedOptions) {
  try {
    await context.store.release(fenced);
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
