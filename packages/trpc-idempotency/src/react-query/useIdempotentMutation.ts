import {
  type DefaultError,
  type MutateOptions,
  type Mutation,
  type QueryClient,
  type UseMutationOptions,
  type UseMutationResult,
  useMutation,
  useQueryClient,
} from '@tanstack/react-query';
import { createContext, createElement, type ReactNode, useContext, useRef } from 'react';
import { isRetryableError } from '../client/errors';
import type { IdempotentInputBrand } from '../shared/idempotentInput';
import { randomKey } from '../shared/randomKey';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';
import { getIdempotencyKey, idempotentMutationOptions } from './idempotentMutationOptions';
import type { PendingOperations } from './pendingOperations';

const PendingOperationsContext = createContext<PendingOperations | undefined>(undefined);

/**
 * Makes `value` (from `createPendingOperations`) persist the idempotent
 * mutations of {@link useIdempotentMutation} below it.
 * @see README.md#pending-operations-survive-a-reload
 */
export function PendingOperationsProvider(props: {
  value: PendingOperations;
  children?: ReactNode;
}) {
  return createElement(PendingOperationsContext.Provider, { value: props.value }, props.children);
}

/** The input of an idempotent mutation, without its key: the key is the hook's business. */
type InputOf<TVariables> = Omit<TVariables, typeof IDEMPOTENCY_KEY_FIELD> & {
  idempotencyKey?: string;
};

/** `Omit` over each member of a union, so `isSuccess` still narrows `data` as with `useMutation`. */
type DistributiveOmit<T, TKeys extends PropertyKey> = T extends unknown ? Omit<T, TKeys> : never;

/**
 * The result of {@link useIdempotentMutation}: `useMutation`'s, whose
 * `mutate` and `mutateAsync` take the input without a key.
 */
export type UseIdempotentMutationResult<TData, TError, TVariables, TOnMutateResult> =
  DistributiveOmit<
    UseMutationResult<TData, TError, TVariables, TOnMutateResult>,
    'mutate' | 'mutateAsync'
  > & {
    /** Runs the operation; a second call with the same input while it is pending does nothing. */
    mutate: (
      input: InputOf<TVariables>,
      options?: MutateOptions<TData, TError, TVariables, TOnMutateResult>,
    ) => void;
    /** As `mutate`, resolving with the result; a repeated call resolves with the same operation's. */
    mutateAsync: (
      input: InputOf<TVariables>,
      options?: MutateOptions<TData, TError, TVariables, TOnMutateResult>,
    ) => Promise<TData>;
  };

/**
 * Makes passing the options of a plain mutation a type error that says why:
 * a plain mutation has no key to reuse, and must not be retried.
 */
type RequireIdempotent<TVariables> = IdempotentInputBrand extends keyof TVariables
  ? unknown
  : {
      'useIdempotentMutation takes the options of an idempotent mutation (built by idempotentProcedure)': never;
    };

/** The form's draft: the key of one operation, and the input it was asked for with. */
interface Draft {
  key: string;
  input: string;
  /** Its outcome is known: the next submission is a new operation. */
  settled: boolean;
}

/**
 * Key order-insensitive text of an input, to tell "the same form submitted
 * again" from "the form changed". Not a fingerprint: only compared in memory.
 */
function sameInputText(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
    if (Object.getPrototypeOf(item) !== Object.prototype) return item;
    const record = item as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map((name) => [name, record[name]]),
    );
  });
}

function withoutKey(input: object): object {
  const { [IDEMPOTENCY_KEY_FIELD]: _key, ...rest } = input as Record<string, unknown>;
  return rest;
}

/** Whether an error ends the operation: a retry with its key would replay it. */
function isFinal(error: unknown) {
  return !isRetryableError(error);
}

/** The cache's latest mutation that carries `key`. */
function latestWithKey(queryClient: QueryClient, key: string) {
  const withKey = queryClient
    .getMutationCache()
    .findAll({ predicate: (mutation) => getIdempotencyKey(mutation.state.variables) === key });
  return withKey.at(-1);
}

/** Resolves or rejects with `mutation`'s outcome once it settles. */
function outcomeOf<TData>(
  queryClient: QueryClient,
  mutation: Mutation<TData, unknown, unknown, unknown>,
) {
  return new Promise<TData>((resolve, reject) => {
    const settle = () => {
      const { status, data, error } = mutation.state;
      if (status === 'success') resolve(data as TData);
      else if (status === 'error') reject(error);
      else return false;
      return true;
    };
    if (settle()) return;
    const unsubscribe = queryClient.getMutationCache().subscribe((event) => {
      if (event.mutation === mutation && settle()) unsubscribe();
    });
  });
}

/**
 * `useMutation` for an idempotent mutation, with its key fixed when the user
 * asks for the operation and carried in the variables, so TanStack Query's
 * `retry`, the link's retries and a double submit all reuse it:
 * - `mutate(input)` adds the key of the current draft: the same input
 *   submitted again while the operation is pending is the same operation (a
 *   double click runs nothing more); a changed input, or one submitted after
 *   the outcome is known, is a new operation with a new key. After an outcome
 *   left unknown (retries exhausted), the same input keeps its key, so
 *   submitting it again is safe.
 * - Below a {@link PendingOperationsProvider} the operation is persisted until
 *   its outcome is known, and resumed after a reload.
 * - TanStack Query retries what is safe to retry (see `idempotentRetry`).
 * @example
 * ```ts
 * const trpc = useTRPC();
 * const transfer = useIdempotentMutation(trpc.transfers.create.mutationOptions());
 * transfer.mutate({ fromAccountId, toAccountId, amount });
 * ```
 * @see README.md#tanstack-query
 */
export function useIdempotentMutation<
  TData = unknown,
  TError = DefaultError,
  TVariables extends object = object,
  TOnMutateResult = unknown,
>(
  options: UseMutationOptions<TData, TError, TVariables, TOnMutateResult> &
    RequireIdempotent<TVariables>,
  queryClient?: QueryClient,
): UseIdempotentMutationResult<TData, TError, TVariables, TOnMutateResult> {
  const client = useQueryClient(queryClient);
  const pending = useContext(PendingOperationsContext);
  const wrapped = pending ? pending.mutationOptions(options) : idempotentMutationOptions(options);
  const mutation = useMutation(wrapped, queryClient);
  const draft = useRef<Draft | undefined>(undefined);

  /** The variables to send for `input`, and the pending mutation already running them, if any. */
  function prepare(input: InputOf<TVariables>) {
    const explicit = getIdempotencyKey(input);
    let key = explicit;
    if (key === undefined) {
      const text = sameInputText(withoutKey(input));
      const current = draft.current;
      const latest = current && latestWithKey(client, current.key);
      const settled =
        current?.settled ||
        latest?.state.status === 'success' ||
        (latest?.state.status === 'error' && isFinal(latest.state.error));
      if (!current || current.input !== text || settled) {
        draft.current = { key: randomKey(), input: text, settled: false };
      }
      key = draft.current!.key;
    }
    const running = latestWithKey(client, key);
    const variables = { ...input, [IDEMPOTENCY_KEY_FIELD]: key } as unknown as TVariables;
    return {
      key,
      variables,
      running: running?.state.status === 'pending' ? running : undefined,
    };
  }

  /** Marks the draft settled when this operation's outcome is known. */
  function tracking(
    key: string,
    callbacks: MutateOptions<TData, TError, TVariables, TOnMutateResult> | undefined,
  ): MutateOptions<TData, TError, TVariables, TOnMutateResult> {
    const settle = () => {
      if (draft.current?.key === key) draft.current.settled = true;
    };
    return {
      ...callbacks,
      onSuccess(...args) {
        settle();
        return callbacks?.onSuccess?.(...args);
      },
      onError(...args) {
        if (isFinal(args[0])) settle();
        return callbacks?.onError?.(...args);
      },
    };
  }

  return {
    ...mutation,
    mutate(input, callbacks) {
      const { key, variables, running } = prepare(input);
      if (running) return;
      mutation.mutate(variables, tracking(key, callbacks));
    },
    mutateAsync(input, callbacks) {
      const { key, variables, running } = prepare(input);
      if (running) return outcomeOf(client, running as Mutation<TData, unknown, unknown, unknown>);
      return mutation.mutateAsync(variables, tracking(key, callbacks));
    },
  };
}
