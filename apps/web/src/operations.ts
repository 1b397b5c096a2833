import type { Mutation } from '@tanstack/react-query';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import { getIdempotencyKey } from 'trpc-idempotency/react-query';
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

/** What `data-state` says: the four states of the page's fixed contract (README). */
export type OperationState = 'pending' | 'retrying' | 'succeeded' | 'failed';

export interface OperationView {
  key: string;
  userId: string;
  submittedAt: number;
  state: OperationState;
  /** Waiting for the network (offline): queued, nothing sent yet. */
  queued: boolean;
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

/** The row of the operation list for a mutation. */
export function viewOf(mutation: AnyMutation): OperationView | undefined {
  const operation = operationOf(mutation);
  if (!operation) return undefined;
  const { state } = mutation;
  // While retrying, the last failure; once failed, the final one.
  const error = (state.error ?? state.failureReason) as {
    message?: string;
    data?: { code?: string };
  } | null;
  return {
    key: operation.key,
    userId: operation.userId,
    submittedAt: state.submittedAt,
    state:
      state.status === 'success'
        ? 'succeeded'
        : state.status === 'error'
          ? 'failed'
          : state.failureCount > 0
            ? 'retrying'
            : 'pending',
    queued: state.isPaused,
    failures: state.failureCount,
    ...(error && { error: { message: error.message ?? String(error), code: error.data?.code } }),
    operation,
  };
}
