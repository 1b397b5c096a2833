import {
  type DehydratedState,
  dehydrate,
  hashKey,
  type Mutation,
  type MutationKey,
  type QueryClient,
} from '@tanstack/react-query';
import type { AnyTRPCRouter as AnyRouter } from '@trpc/server';
import { createStore, del, entries, set, type UseStore } from 'idb-keyval';
import { isRetryableError } from '../client/errors';
import type { inferIdempotentPaths } from '../shared/idempotentInput';
import {
  type AnyMutationOptions,
  getIdempotencyKey,
  idempotentMutationOptions,
  requireIdempotencyKey,
} from './idempotentMutationOptions';

// biome-ignore lint/suspicious/noExplicitAny: any mutation of the cache, whatever its types.
type AnyMutation = Mutation<any, any, any, any>;

/** One persisted operation: the mutation as TanStack Query dehydrates it, and whose it is. */
interface PendingOperationRecord {
  version: 1;
  namespace: string;
  idempotencyKey: string;
  mutation: DehydratedState['mutations'][number];
}

/**
 * Options of {@link createPendingOperations}.
 * @see README.md#pending-operations-survive-a-reload
 */
export interface PendingOperationsOptions<TRouter extends AnyRouter> {
  queryClient: QueryClient;
  /**
   * The mutation options of every idempotent mutation of the router, by path
   * (`trpc.x.mutationOptions()`): a restored operation runs with them. Every
   * idempotent path is required (the same check as the link's `procedures`).
   */
  procedures: { readonly [TPath in inferIdempotentPaths<TRouter>]: AnyMutationOptions };
  /**
   * Whose operations these are: the principal the calls run as (a user or
   * tenant id). Operations are persisted under it and only this namespace's
   * are resumed, so one user's pending transfer is never sent as another's.
   * Default `''`.
   */
  namespace?: string;
  /**
   * The IndexedDB store to keep them in (from idb-keyval's `createStore`).
   * Default: database `trpc-idempotency`, store `pending-operations`.
   */
  store?: UseStore;
  /**
   * Told when the browser cannot persist or read an operation (no IndexedDB,
   * quota, a value it cannot clone). The operation itself still runs, safely
   * retried with its key; only surviving a reload is lost. Default `console.warn`.
   */
  onStorageError?: (error: unknown) => void;
}

/**
 * Persistence of idempotent mutations from {@link createPendingOperations}.
 * @see README.md#pending-operations-survive-a-reload
 */
export interface PendingOperations {
  readonly namespace: string;
  /**
   * Wraps an idempotent mutation's options: the operation is persisted with
   * its key before its first attempt leaves (write-ahead, offline too), kept
   * while its outcome is unknown, and removed once known (a result, or an
   * error a retry cannot change). Retries as {@link idempotentMutationOptions}.
   */
  mutationOptions<TOptions extends AnyMutationOptions>(options: TOptions): TOptions;
  /**
   * Puts this namespace's persisted operations back in the mutation cache and
   * runs each to its end with its own key (after a reload: the server replays
   * or joins the first attempt, so each completes once). Skips those already
   * in this cache and those another tab is running. Resolves once they are
   * started, with their mutations; their results arrive like any mutation's.
   */
  resume(): Promise<AnyMutation[]>;
}

const DEFAULT_STORE = { database: 'trpc-idempotency', store: 'pending-operations' } as const;

/** The Web Locks API where the browser has it (all current ones do); absent in Node. */
function webLocks(): LockManager | undefined {
  return (globalThis.navigator as Navigator | undefined)?.locks;
}

/**
 * Persists idempotent mutations in IndexedDB (through idb-keyval) from the
 * moment they are asked for until their outcome is known, and resumes them
 * with their keys when the app starts again.
 *
 * TanStack Query's own persisters keep only paused mutations and lose one in
 * flight when the page closes, the one case whose outcome is unknown. Here
 * every pending operation is its own record, written before its request
 * leaves, so a reload, a crash or a closed tab mid-flight leaves it to be
 * resumed; one record per operation also means tabs never overwrite each
 * other's. Each attempt holds a Web Lock named after its key: two tabs do not
 * run one operation at once, and if they ever did, both would send the same
 * key, which the server runs at most once.
 * @example
 * ```ts
 * const pending = createPendingOperations<AppRouter>({
 *   queryClient,
 *   namespace: userId,
 *   procedures: { 'transfers.create': trpc.transfers.create.mutationOptions() },
 * });
 * await pending.resume();
 * ```
 * @see README.md#pending-operations-survive-a-reload
 */
export function createPendingOperations<TRouter extends AnyRouter>(
  opts: PendingOperationsOptions<TRouter>,
): PendingOperations {
  const { queryClient } = opts;
  const namespace = opts.namespace ?? '';
  const onStorageError =
    opts.onStorageError ??
    ((error: unknown) => console.warn('trpc-idempotency: pending operations not persisted', error));
  const procedures = registeredProcedures(opts.procedures as Record<string, AnyMutationOptions>);

  let store: UseStore | undefined = opts.store;
  /** The store, opened on first use: IndexedDB may be missing (Node, some private modes). */
  function openStore(): UseStore {
    if (store) return store;
    if (typeof indexedDB === 'undefined') {
      throw new Error('IndexedDB is not available: pending operations cannot survive a reload');
    }
    store = createStore(DEFAULT_STORE.database, DEFAULT_STORE.store);
    return store;
  }

  const recordId = (idempotencyKey: string) => [namespace, idempotencyKey];
  const lockName = (idempotencyKey: string) => `trpc-idempotency:${namespace}:${idempotencyKey}`;

  async function persist(mutation: AnyMutation, key: string) {
    const [dehydrated] = dehydrate(queryClient, {
      shouldDehydrateMutation: (candidate) => candidate === mutation,
      shouldDehydrateQuery: () => false,
    }).mutations;
    const record: PendingOperationRecord = {
      version: 1,
      namespace,
      idempotencyKey: key,
      mutation: dehydrated!,
    };
    try {
      await set(recordId(key), record, openStore());
    } catch (error) {
      onStorageError(error);
    }
  }

  async function forget(key: string) {
    try {
      await del(recordId(key), openStore());
    } catch (error) {
      onStorageError(error);
    }
  }

  /** The pending mutation of this cache whose variables are `variables` (the same object). */
  function findMutation(variables: unknown) {
    return queryClient
      .getMutationCache()
      .getAll()
      .find((mutation) => mutation.state.variables === variables);
  }

  function mutationOptions<TOptions extends AnyMutationOptions>(options: TOptions): TOptions {
    const keyed = idempotentMutationOptions(options);
    const { mutationFn, onMutate } = keyed;
    if (!mutationFn) {
      throw new TypeError(
        `pending operations: mutation ${JSON.stringify(options.mutationKey)} has no mutationFn`,
      );
    }
    return {
      ...keyed,
      // Before the first attempt, offline or not: a paused mutation never reaches mutationFn.
      async onMutate(variables, context) {
        const key = requireIdempotencyKey(variables, options.mutationKey);
        const mutation = findMutation(variables);
        if (mutation) await persist(mutation, key);
        return onMutate?.(variables, context);
      },
      mutationFn(variables, context) {
        const key = requireIdempotencyKey(variables, options.mutationKey);
        const attempt = async () => {
          try {
            const data = await mutationFn(variables, context);
            await forget(key);
            return data;
          } catch (error) {
            // Outcome known: a retry with this key would only replay it.
            if (!isRetryableError(error)) await forget(key);
            throw error;
          }
        };
        const locks = webLocks();
        return locks ? locks.request(lockName(key), attempt) : attempt();
      },
    };
  }

  async function heldByOthers(): Promise<ReadonlySet<string>> {
    const locks = webLocks();
    if (!locks) return new Set();
    const { held = [] } = await locks.query();
    return new Set(held.map((lock) => lock.name ?? ''));
  }

  async function resume() {
    let records: Array<[IDBValidKey, unknown]>;
    try {
      records = await entries(openStore());
    } catch (error) {
      onStorageError(error);
      return [];
    }
    const held = await heldByOthers();
    const inCache = new Set(
      queryClient
        .getMutationCache()
        .getAll()
        .map((mutation) => getIdempotencyKey(mutation.state.variables)),
    );
    const resumed: AnyMutation[] = [];
    for (const [, value] of records) {
      const record = value as PendingOperationRecord;
      if (record.version !== 1 || record.namespace !== namespace) continue;
      const key = record.idempotencyKey;
      // Running here already, or in another tab (which holds its lock while it runs).
      if (inCache.has(key) || held.has(lockName(key))) continue;
      const options = procedures.get(hashKey(record.mutation.mutationKey ?? []));
      if (!options) {
        onStorageError(
          new Error(
            `pending operation ${key} is for mutation ${JSON.stringify(record.mutation.mutationKey)}, which is not among \`procedures\`: left in storage`,
          ),
        );
        continue;
      }
      const mutation = queryClient.getMutationCache().build(
        queryClient,
        {
          ...mutationOptions(options),
          ...(record.mutation.meta && { meta: record.mutation.meta }),
          ...(record.mutation.scope && { scope: record.mutation.scope }),
        },
        record.mutation.state,
      );
      inCache.add(key);
      resumed.push(mutation);
      // Its outcome reaches the UI through the cache, like any mutation's.
      mutation.continue().catch(() => {});
    }
    return resumed;
  }

  return { namespace, mutationOptions, resume };
}

/** The options of each idempotent mutation by the hash of its key, checked to be usable. */
function registeredProcedures(procedures: Record<string, AnyMutationOptions>) {
  const byKey = new Map<string, AnyMutationOptions>();
  for (const [path, options] of Object.entries(procedures)) {
    const trpcPath = (options as { trpc?: { path?: unknown } }).trpc?.path;
    if (!options.mutationKey || !options.mutationFn) {
      throw new TypeError(
        `pending operations: procedures[${JSON.stringify(path)}] needs a mutationKey and a mutationFn: pass trpc.${path}.mutationOptions()`,
      );
    }
    if (typeof trpcPath === 'string' && trpcPath !== path) {
      throw new TypeError(
        `pending operations: procedures[${JSON.stringify(path)}] holds the options of \`${trpcPath}\``,
      );
    }
    byKey.set(hashKey(options.mutationKey as MutationKey), options);
  }
  return byKey;
}
