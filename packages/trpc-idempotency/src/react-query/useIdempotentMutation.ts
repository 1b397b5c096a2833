import {
  type DefaultError,
  hashKey,
  type MutateOptions,
  type Mutation,
  type MutationKey,
  type QueryClient,
  type UseMutationOptions,
  type UseMutationResult,
  useMutation,
  useMutationState,
  useQueryClient,
} from '@tanstack/react-query';
import {
  createContext,
  createElement,
  type ReactNode,
  useContext,
  useLayoutEffect,
  useRef,
} from 'react';
import type { IdempotentInputBrand } from '../shared/idempotentInput';
import { randomKey } from '../shared/randomKey';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';
import { getIdempotencyKey, withIdempotentRetries } from './idempotentMutationOptions';
import { intentInputOf } from './intentInput';
import {
  isAlreadyDone,
  isOutcomeUnknown,
  type OperationState,
  operationStateOf,
} from './operationState';
import type { PendingOperations } from './pendingOperations';

const PendingOperationsContext = createContext<PendingOperations | undefined>(undefined);

/**
 * Makes `value` (from `createPendingOperations`) persist every idempotent
 * mutation of the QueryClient while it is mounted (`value.start()`), and
 * resumes the persisted ones (`value.resume()`) when it mounts.
 * @see README.md#pending-operations-survive-a-reload
 */
export function PendingOperationsProvider(props: {
  value: PendingOperations;
  children?: ReactNode;
}) {
  const { value } = props;
  // A layout effect: attached in the commit that shows the page, before any click can reach it.
  useLayoutEffect(() => {
    const stop = value.start();
    void value.resume();
    return stop;
  }, [value]);
  return createElement(PendingOperationsContext.Provider, { value }, props.children);
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
    /**
     * The form's operation, honestly (SPEC 7.9): the one last asked for here,
     * else the latest of this procedure a reload resumed (so the page shows
     * what became of it). `undefined` before either.
     */
    operation: IdempotentOperation<TData, TError> | undefined;
    /** The user starts a new operation on purpose: the next submission gets a new key, whatever its input. */
    newOperation: () => void;
    /** Gives up the waiting operation: never sent again, shown `unknown` (needs a PendingOperationsProvider). */
    discard: () => Promise<void>;
  };

/**
 * One operation as {@link useIdempotentMutation} shows it.
 * @see README.md#honest-outcomes
 */
export interface IdempotentOperation<TData, TError> {
  /** Its idempotency key. */
  key: string;
  /** Where it stands: `waiting` while its outcome is unknown, never `failed` for a network failure. */
  state: OperationState;
  /** A resubmission found it done before: show "already done". */
  alreadyDone: boolean;
  /** Its result, once succeeded (none when the server no longer keeps it). */
  data: TData | undefined;
  /** Its last error: the final one when `failed`, the last attempt's while `waiting`. */
  error: TError | null;
}

/**
 * Makes passing the options of a plain mutation a type error that says why:
 * a plain mutation has no key to reuse, and must not be retried.
 */
type RequireIdempotent<TVariables> = IdempotentInputBrand extends keyof TVariables
  ? unknown
  : {
      'useIdempotentMutation takes the options of an idempotent mutation (built by idempotentProcedure)': never;
    };

/** The form's draft: the key of one intended operation, and the input it was asked for with. */
interface Draft {
  key: string;
  input: string;
}

// biome-ignore lint/suspicious/noExplicitAny: any mutation of the cache, whatever its types.
type AnyMutation = Mutation<any, any, any, any>;

/** The cache's latest mutation that carries `key`. */
function latestWithKey(queryClient: QueryClient, key: string): AnyMutation | undefined {
  return queryClient
    .getMutationCache()
    .findAll({ predicate: (mutation) => getIdempotencyKey(mutation.state.variables) === key })
    .at(-1);
}

/**
 * The key of an operation of the same procedure and input the user did not
 * ask for from this form, whose outcome is still open or which a reload
 * resumed, else of one the pending operations remember as done (before a
 * reload too, within the server's horizon): a submission of the same input is
 * that operation (SPEC 7.8).
 */
function adoptableKey(opts: {
  queryClient: QueryClient;
  mutationKey: unknown;
  input: string;
  variables: unknown;
  pending: PendingOperations | undefined;
}): string | undefined {
  return (
    openOrResumedKey(opts) ??
    (opts.mutationKey === undefined
      ? undefined
      : opts.pending?.completedIntent(opts.mutationKey as MutationKey, opts.variables))
  );
}

/** The key of a matching operation of the cache still open, or resumed by a reload. */
function openOrResumedKey(opts: {
  queryClient: QueryClient;
  mutationKey: unknown;
  input: string;
  pending: PendingOperations | undefined;
}): string | undefined {
  const procedure = opts.mutationKey === undefined ? undefined : hashKey(opts.mutationKey as never);
  const candidates = opts.queryClient
    .getMutationCache()
    .getAll()
    .filter((mutation) => {
      const key = mutation.options.mutationKey;
      if (procedure !== undefined && (!key || hashKey(key) !== procedure)) return false;
      if (intentInputOf(mutation.state.variables) !== opts.input) return false;
      const state = operationStateOf(mutation.state);
      if (state === 'pending' || state === 'waiting') return true;
      return state === 'succeeded' && opts.pending?.wasResumed(mutation) === true;
    });
  return getIdempotencyKey(candidates.at(-1)?.state.variables);
}

/**
 * The same input submitted again after this needs a new key: the server
 * answered a final failure (replaying it helps no one), or the operation is
 * older than the server keeps keys.
 */
function endedForGood(mutation: AnyMutation) {
  const state = operationStateOf(mutation.state);
  if (state === 'failed') return true;
  const error: unknown = mutation.state.error;
  return state === 'unknown' && isOutcomeUnknown(error) && error.why === 'past-horizon';
}

/** The latest mutation of the procedure a reload resumed, with every later one of its key. */
function latestResumed(
  queryClient: QueryClient,
  mutationKey: unknown,
  pending: PendingOperations | undefined,
): AnyMutation | undefined {
  if (!pending || mutationKey === undefined) return undefined;
  const procedure = hashKey(mutationKey as never);
  const resumed = queryClient
    .getMutationCache()
    .getAll()
    .filter((mutation) => {
      const key = mutation.options.mutationKey;
      return key !== undefined && hashKey(key) === procedure && pending.wasResumed(mutation);
    })
    .at(-1);
  const key = getIdempotencyKey(resumed?.state.variables);
  return key === undefined ? undefined : latestWithKey(queryClient, key);
}

/** Resolves or rejects with `mutation`'s outcome once it settles. */
function outcomeOf<TData>(queryClient: QueryClient, mutation: AnyMutation) {
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
 * `useMutation` for an idempotent mutation, with one key per intended
 * operation (SPEC 7.8), carried in the variables, so TanStack Query's
 * `retry`, the link's retries and a double submit all reuse it:
 * - `mutate(input)` adds the key of the current draft: the same input
 *   submitted again is the same operation — while it is pending (a double
 *   click runs nothing more), while its outcome is unknown, and after it
 *   succeeded (the server replays it; `operation.alreadyDone` says so).
 * - A new key only when the input changes, after a final failure, or after
 *   `newOperation()` (the user starts a new operation on purpose).
 * - A submission whose input matches an operation still open, or one a reload
 *   resumed, adopts its key instead of starting a second one; so does one that
 *   matches an operation the pending operations remember as done (after a
 *   reload too, within the server's horizon): the server replays it, and
 *   `operation.alreadyDone` says so.
 * - Below a {@link PendingOperationsProvider} the operation is persisted until
 *   its outcome is known, tried again while it is unknown, and resumed after a
 *   reload. `operation.state` tells where it stands; a network failure is
 *   `waiting`, never `failed`.
 * @example
 * ```ts
 * const trpc = useTRPC();
 * const transfer = useIdempotentMutation(trpc.transfers.create.mutationOptions());
 * transfer.mutate({ fromAccountId, toAccountId, amount });
 * ```
 * @see README.md#one-key-per-intent
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
  const mutation = useMutation(withIdempotentRetries(options), queryClient);
  const draft = useRef<Draft | undefined>(undefined);
  /** After `newOperation()`: the next submission adopts nothing. */
  const fresh = useRef(false);
  // Re-renders when any operation of this procedure changes, also one the hook
  // did not run itself (resumed, given up, tried again by the pending operations).
  useMutationState({
    filters: options.mutationKey ? { mutationKey: options.mutationKey } : {},
    select: (each) => `${each.mutationId}:${each.state.status}:${each.state.isPaused}`,
  });

  /** The pending operations stop taking `input` for this procedure's operation done before. */
  function forgetIntent(input: unknown) {
    if (pending && options.mutationKey) void pending.forgetIntent(options.mutationKey, input);
  }

  /** The variables to send for `input`, and the pending mutation already running them, if any. */
  function prepare(input: InputOf<TVariables>) {
    let key = getIdempotencyKey(input);
    if (key === undefined) {
      const text = intentInputOf(input);
      const current = draft.current;
      const latest = current && latestWithKey(client, current.key);
      const same = current?.input === text && !(latest && endedForGood(latest));
      if (!same) {
        // A new operation on purpose: nothing adopted, and the memory of the same input done
        // before forgotten, so a resubmission after this one fails is not taken for that one.
        if (fresh.current) forgetIntent(input);
        const adopted = fresh.current
          ? undefined
          : adoptableKey({
              queryClient: client,
              mutationKey: options.mutationKey,
              input: text,
              variables: input,
              pending,
            });
        draft.current = { key: adopted ?? randomKey(), input: text };
      }
      fresh.current = false;
      key = draft.current!.key;
    } else {
      draft.current = { key, input: intentInputOf(input) };
    }
    const running = latestWithKey(client, key);
    const variables = { ...input, [IDEMPOTENCY_KEY_FIELD]: key } as unknown as TVariables;
    return { variables, running: running?.state.status === 'pending' ? running : undefined };
  }

  const current = draft.current
    ? latestWithKey(client, draft.current.key)
    : latestResumed(client, options.mutationKey, pending);
  const state = current && operationStateOf(current.state);
  const operation: IdempotentOperation<TData, TError> | undefined =
    current && state !== undefined && state !== 'idle'
      ? {
          key: getIdempotencyKey(current.state.variables)!,
          state,
          alreadyDone: isAlreadyDone(client, current),
          data: current.state.data as TData | undefined,
          error: (current.state.error ?? current.state.failureReason) as TError | null,
        }
      : undefined;

  return {
    ...mutation,
    mutate(input, callbacks) {
      const submit = () => {
        const { variables, running } = prepare(input);
        if (!running) mutation.mutate(variables, callbacks);
      };
      // Submitted while a reload's operations are being put back: decide once they are.
      const resuming = pending?.resumed();
      if (resuming) void resuming.then(submit);
      else submit();
    },
    async mutateAsync(input, callbacks) {
      await pending?.resumed();
      const { variables, running } = prepare(input);
      if (running) return outcomeOf<TData>(client, running);
      return mutation.mutateAsync(variables, callbacks);
    },
    operation,
    newOperation() {
      const done = draft.current && latestWithKey(client, draft.current.key);
      if (done) forgetIntent(done.state.variables);
      draft.current = undefined;
      fresh.current = true;
      mutation.reset();
    },
    async discard() {
      if (draft.current && pending) await pending.discard(draft.current.key);
    },
  };
}
