import type { Mutation, QueryClient } from '@tanstack/react-query';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { getIdempotencyReason, IDEMPOTENCY_REASONS } from 'trpc-idempotency/client';
import {
  getIdempotencyKey,
  isAlreadyDone,
  isOutcomeUnknown,
  operationStateOf,
} from 'trpc-idempotency/react-query';
import type { AppRouter } from './ledger';

type Inputs = inferRouterInputs<AppRouter>;
type Outputs = inferRouterOutputs<AppRouter>;

/** One operation the user asked for, as the operation list shows it. */
export type Operation =
  | { kind: 'open'; input: Inputs['accounts']['open']; result?: Outputs['accounts']['open'] }
  | {
      kind: 'transfer';
      input: Inputs['transfers']['create'];
      result?: Outputs['transfers']['create'];
    };

/** What `data-state` says: the states of the page's fixed contract (README, SPEC section 10). */
export type OperationState = 'pending' | 'retrying' | 'succeeded' | 'failed' | 'unknown';

export interface OperationView {
  key: string;
  userId: string;
  submittedAt: number;
  /** Creation order in this page, of the latest submission with this key. */
  order: number;
  state: OperationState;
  /**
   * Its outcome is unknown and it waits to be sent again, with its key: the
   * network is gone (offline, or its requests failed). Never "failed".
   */
  waiting: boolean;
  /** A resubmission of an operation already done: the server replayed it. */
  alreadyDone: boolean;
  /** It ran, but the server no longer keeps its response: done, without a result. */
  resultExpired: boolean;
  /** Why its outcome stays unknown. */
  unknownWhy?: 'discarded' | 'past-horizon';
  /** TanStack Query's failed attempts so far. */
  failures: number;
  error?: { message: string; code?: string };
  operation: Operation;
}

const PATHS = { 'accounts.open': 'open', 'transfers.create': 'transfer' } as const;

// biome-ignore lint/suspicious/noExplicitAny: any mutation of the cache.
type AnyMutation = Mutation<any, any, any, any>;

/** The operation a mutation of the cache is, if it is one of the ledger's idempotent ones. */
export function operationOf(
  mutation: AnyMutation,
): (Operation & { key: string; userId: string }) | undefined {
  const [path] = mutation.options.mutationKey ?? [];
  const kind = Array.isArray(path) ? PATHS[path.join('.') as keyof typeof PATHS] : undefined;
  const key = getIdempotencyKey(mutation.state.variables);
  const userId = (mutation.meta as { userId?: unknown } | undefined)?.userId;
  if (!kind || !key || typeof userId !== 'string') return undefined;
  return {
    kind,
    key,
    userId,
    input: mutation.state.variables,
    result: mutation.state.status === 'success' ? mutation.state.data : undefined,
  } as Operation & { key: string; userId: string };
}

/** The row of the operation list for a mutation, told honestly (SPEC 7.9, 7.10). */
export function viewOf(queryClient: QueryClient, mutation: AnyMutation): OperationView | undefined {
  const operation = operationOf(mutation);
  if (!operation) return undefined;
  const { state } = mutation;
  const honest = operationStateOf(state);
  // While retrying, the last failure; once ended, the final one.
  const error = (state.error ?? state.failureReason) as {
    message?: string;
    data?: { code?: string };
  } | null;
  const waiting = honest === 'waiting';
  let shown: OperationState;
  if (honest === 'succeeded' || honest === 'failed' || honest === 'unknown') shown = honest;
  // Waiting after its requests failed is being retried with backoff; queued offline, nothing left yet.
  else if (waiting) shown = state.status === 'error' ? 'retrying' : 'pending';
  else shown = state.failureCount > 0 ? 'retrying' : 'pending';
  return {
    key: operation.key,
    userId: operation.userId,
    submittedAt: state.submittedAt,
    order: mutation.mutationId,
    state: shown,
    waiting,
    alreadyDone: isAlreadyDone(queryClient, mutation),
    resultExpired: getIdempotencyReason(state.error) === IDEMPOTENCY_REASONS.outcomeExpired,
    ...(isOutcomeUnknown(state.error) && { unknownWhy: state.error.why }),
    failures: state.failureCount,
    ...(error &&
      honest !== 'succeeded' && {
        error: { message: error.message ?? String(error), code: error.data?.code },
      }),
    operation,
  };
}
