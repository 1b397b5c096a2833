import type { Mutation, MutationState, QueryClient } from '@tanstack/react-query';
import { isIdempotencyOutcomeExpired, isRetryableError } from '../client/errors';
import { getIdempotencyKey } from './idempotentMutationOptions';

/**
 * Where an idempotent operation stands, honestly (SPEC 7.9, 7.10):
 * - `pending`: an attempt is on its way;
 * - `waiting`: its outcome is unknown (offline, network failures, retries used
 *   up); it keeps its key and is tried again; never shown as failed;
 * - `succeeded`: it ran. Also when the server says it ran but no longer
 *   stores its response (`IDEMPOTENCY_OUTCOME_EXPIRED`): no result then;
 * - `failed`: the server answered a final error;
 * - `unknown`: given up without an answer (discarded, or older than the
 *   server's horizon): it may or may not have run, and is never sent again.
 * @see README.md#honest-outcomes
 */
export type OperationState = 'pending' | 'waiting' | 'succeeded' | 'failed' | 'unknown';

/** Why an operation's outcome stays unknown. */
export type OutcomeUnknownCause = 'discarded' | 'past-horizon';

/**
 * The error of an operation given up without an answer: it is never sent
 * again, and may or may not have run.
 * @see README.md#honest-outcomes
 */
export class OutcomeUnknownError extends Error {
  override readonly name = 'OutcomeUnknownError';
  readonly idempotencyKey: string;
  readonly why: OutcomeUnknownCause;
  constructor(opts: { idempotencyKey: string; why: OutcomeUnknownCause }) {
    super(
      opts.why === 'discarded'
        ? `operation ${opts.idempotencyKey} was discarded before its outcome was known: it may or may not have run`
        : `operation ${opts.idempotencyKey} is older than the server keeps keys: not sent again, it may or may not have run`,
    );
    this.idempotencyKey = opts.idempotencyKey;
    this.why = opts.why;
  }
}

/** `err` is an {@link OutcomeUnknownError} (of any copy of this package). */
export function isOutcomeUnknown(err: unknown): err is OutcomeUnknownError {
  return err instanceof Error && err.name === 'OutcomeUnknownError' && 'why' in err;
}

/** The fields of a mutation's state the operation state depends on. */
interface StateFields {
  status: MutationState['status'];
  error: unknown;
  isPaused: boolean;
}

/**
 * The {@link OperationState} of an idempotent mutation from its TanStack
 * Query state (`mutation.state`, or `useMutation`'s result); `idle` before it
 * was asked for.
 * @see README.md#honest-outcomes
 */
export function operationStateOf(state: StateFields): OperationState | 'idle' {
  switch (state.status) {
    case 'idle':
      return 'idle';
    case 'success':
      return 'succeeded';
    case 'pending':
      return state.isPaused ? 'waiting' : 'pending';
    default: {
      const { error } = state;
      if (isOutcomeUnknown(error)) return 'unknown';
      if (isIdempotencyOutcomeExpired(error)) return 'succeeded';
      return isRetryableError(error) ? 'waiting' : 'failed';
    }
  }
}

// biome-ignore lint/suspicious/noExplicitAny: any mutation of the cache, whatever its types.
type AnyMutation = Mutation<any, any, any, any>;

/** Marks a mutation sent with the key of an operation known to be done (by any copy of this package). */
const DONE_BEFORE = Symbol.for('trpc-idempotency.doneBefore');

/** `mutation` was sent with the key of an operation the pending operations remember as done. */
export function markDoneBefore(mutation: AnyMutation) {
  if (!(DONE_BEFORE in mutation)) Object.defineProperty(mutation, DONE_BEFORE, { value: true });
}

/**
 * True when `mutation` succeeded as a repeat of an operation already done:
 * an earlier submission with its key succeeded in this cache or, with
 * pending operations, before a reload (they remember it), or the server
 * answered that it ran before (`IDEMPOTENCY_OUTCOME_EXPIRED`). The UI says
 * "already done" (SPEC 7.8).
 * @see README.md#one-key-per-intent
 */
export function isAlreadyDone(queryClient: QueryClient, mutation: AnyMutation): boolean {
  if (operationStateOf(mutation.state) !== 'succeeded') return false;
  if (isIdempotencyOutcomeExpired(mutation.state.error) || DONE_BEFORE in mutation) return true;
  const key = getIdempotencyKey(mutation.state.variables);
  if (key === undefined) return false;
  return queryClient
    .getMutationCache()
    .getAll()
    .some(
      (other) =>
        other !== mutation &&
        other.mutationId < mutation.mutationId &&
        getIdempotencyKey(other.state.variables) === key &&
        operationStateOf(other.state) === 'succeeded',
    );
}
