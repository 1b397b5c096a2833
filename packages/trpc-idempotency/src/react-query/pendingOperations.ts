import {
  hashKey,
  type Mutation,
  type MutationKey,
  type MutationOptions,
  type MutationState,
  onlineManager,
  type QueryClient,
} from '@tanstack/react-query';
import type { AnyTRPCRouter as AnyRouter } from '@trpc/server';
import type { UseStore } from 'idb-keyval';
import { isIdempotencyOutcomeExpired, isRetryableError } from '../client/errors';
import type { inferIdempotentPaths } from '../shared/idempotentInput';
import { randomKey } from '../shared/randomKey';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';
import { FALLBACK_HORIZON_MS, learnedServerHorizon, onServerHorizon } from '../shared/retention';
import { loadIdbKeyval } from './idbKeyval';
import {
  type AnyMutationOptions,
  getIdempotencyKey,
  withIdempotentRetries,
} from './idempotentMutationOptions';
import { intentInputOf } from './intentInput';
import {
  isOutcomeUnknown,
  markDoneBefore,
  type OutcomeUnknownCause,
  OutcomeUnknownError,
} from './operationState';

// biome-ignore lint/suspicious/noExplicitAny: any mutation of the cache, whatever its types.
type AnyMutation = Mutation<any, any, any, any>;

/** One persisted operation: what it takes to send it again, and how old it is. */
interface PendingOperationRecord {
  version: 2;
  namespace: string;
  idempotencyKey: string;
  /** When it was first asked for (ms since the epoch): its age against the server's horizon. */
  firstSubmittedAt: number;
  mutationKey: MutationKey;
  variables: unknown;
  meta?: Record<string, unknown>;
  scope?: { id: string };
}

/** The first format (0.1.0's): the mutation as TanStack Query dehydrates it. */
interface PendingOperationRecordV1 {
  version: 1;
  namespace: string;
  idempotencyKey: string;
  mutation: {
    mutationKey?: MutationKey;
    state: { variables?: unknown; submittedAt: number };
    meta?: Record<string, unknown>;
    scope?: { id: string };
  };
}

/**
 * An operation that succeeded, remembered so that the same input submitted
 * again is that operation (SPEC 7.8), after a reload too.
 */
interface CompletedIntent {
  /** Its procedure: `hashKey` of its mutation key. */
  procedure: string;
  /** Its input without the key, as {@link intentInputOf} tells one input from another. */
  input: string;
  idempotencyKey: string;
  /** When it was first asked for: its age against the server's horizon, as a pending one's. */
  firstSubmittedAt: number;
  completedAt: number;
}

/**
 * A namespace's completed intents, in one entry rewritten in one transaction
 * per change. `format` is its version; not a `version` field, which readers
 * of pending operations before it take for a pending operation's (1 or 2).
 */
interface CompletedIntentsRecord {
  format: 'completed-intents/1';
  namespace: string;
  intents: CompletedIntent[];
}

/** The completed intents kept per namespace, the latest ones. */
const MAX_COMPLETED_INTENTS = 100;

/** The store's entry with a namespace's completed intents. */
const completedIntentsId = (namespace: string) => `~completed-intents:${namespace}`;

function readCompletedIntents(value: unknown): CompletedIntent[] {
  const record = value as CompletedIntentsRecord | undefined;
  if (typeof record !== 'object' || record === null) return [];
  if (record.format !== 'completed-intents/1' || !Array.isArray(record.intents)) return [];
  return record.intents;
}

/** Marks a mutation some pending operations already persist. */
const INSTRUMENTED = Symbol.for('trpc-idempotency.pendingOperation');

/** The store's entry with the server's horizon, as last learned on this origin. */
const HORIZON_ENTRY = '~server-horizon';

/**
 * Options of {@link createPendingOperations}.
 * @see README.md#pending-operations-survive-a-reload
 */
export interface PendingOperationsOptions<TRouter extends AnyRouter> {
  queryClient: QueryClient;
  /**
   * The mutation options of every idempotent mutation of the router, by path
   * (`trpc.x.mutationOptions()`): a restored operation runs with them, and
   * every mutation of the cache with one of their `mutationKey`s is
   * persisted. Every idempotent path is required (the same check as the
   * link's `procedures`).
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
   * The IndexedDB store to keep them in (from idb-keyval's `createStore`),
   * with the operations remembered as done. Default: database
   * `trpc-idempotency`, store `pending-operations`.
   */
  store?: UseStore;
  /**
   * How long the server keeps a key (its tombstone horizon), in ms, if you
   * know it better than it says: by default the horizon the link learned
   * from the server's `Idempotency-Horizon-Ms` header (persisted), else
   * 24 hours. An operation older than it is never sent again.
   */
  horizonMs?: number;
  /**
   * The wait before trying a waiting operation again (its outcome unknown
   * after the link's retries), by round (0 for the first). Default: 2 s,
   * doubled each round, at most 1 minute, half of it jittered. Back online,
   * every waiting operation is tried at once.
   */
  retryWaitingMs?: (round: number) => number;
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
   * Attaches to the QueryClient's mutation cache: from then on every
   * mutation of a registered procedure, however it was made
   * (`useIdempotentMutation`, `useMutation(idempotentMutationOptions(…))`,
   * plain `useMutation`), gets a key if it had none, is persisted before its
   * first request leaves, and is tried again while its outcome is unknown.
   * Returns the detach. `PendingOperationsProvider` and {@link resume} call it.
   */
  start(): () => void;
  /**
   * The options of an idempotent mutation with the retry policy of
   * {@link idempotentMutationOptions}. Persistence does not depend on it:
   * it comes from {@link start}.
   */
  mutationOptions<TOptions extends AnyMutationOptions>(options: TOptions): TOptions;
  /**
   * Puts this namespace's persisted operations back in the mutation cache and
   * runs each to its end with its own key (after a reload: the server replays
   * or joins the first attempt, so each completes once). One older than the
   * server's horizon is not sent: it is put back as `unknown`. Skips those
   * already in this cache and those another tab is running. Resolves once
   * they are started, with their mutations.
   */
  resume(): Promise<AnyMutation[]>;
  /**
   * Gives up a waiting operation (SPEC 7.9): it is never sent again and its
   * state becomes `unknown` (it may or may not have run). An attempt already
   * on its way is not recalled: its answer, if one comes, still counts.
   */
  discard(idempotencyKey: string): Promise<void>;
  /**
   * Resolves once the first {@link resume} has put the persisted operations
   * back (at once if it has): a submission made before waits for it, so it
   * can adopt a resumed operation of the same input instead of duplicating it.
   */
  resumed(): Promise<void> | undefined;
  /** True for a mutation {@link resume} put back: a submission of the same input adopts its key. */
  wasResumed(mutation: AnyMutation): boolean;
  /**
   * The key of this namespace's operation of the procedure `mutationKey` and
   * the same `input` (compared without its key, as the hook compares a
   * resubmission) that succeeded within the server's horizon, remembered
   * across reloads (the latest 100): submitted again with it, the operation is
   * replayed, not run again (SPEC 7.8). `undefined` if none.
   */
  completedIntent(mutationKey: MutationKey, input: unknown): string | undefined;
  /**
   * Forgets the operation done with this procedure and input: the user starts
   * a new one on purpose (`useIdempotentMutation`'s `newOperation()`).
   */
  forgetIntent(mutationKey: MutationKey, input: unknown): Promise<void>;
  /** The horizon in force, in ms: the option, else the one learned from the server, else 24 h. */
  horizonMs(): number;
}

const DEFAULT_STORE = { database: 'trpc-idempotency', store: 'pending-operations' } as const;

/** The Web Locks API where the browser has it (all current ones do); absent in Node. */
function webLocks(): LockManager | undefined {
  return (globalThis.navigator as Navigator | undefined)?.locks;
}

function defaultRetryWaitingMs(round: number) {
  const cap = Math.min(60_000, 2000 * 2 ** round);
  return cap / 2 + (Math.random() * cap) / 2;
}

/** The variables with `key` in them; `undefined` when they cannot carry one (a primitive). */
function keyedVariables(variables: unknown, key: string): object | undefined {
  if (variables === undefined) return { [IDEMPOTENCY_KEY_FIELD]: key };
  if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) {
    return undefined;
  }
  return getIdempotencyKey(variables) === key
    ? variables
    : { ...variables, [IDEMPOTENCY_KEY_FIELD]: key };
}

function readRecord(value: unknown): PendingOperationRecord | undefined {
  const record = value as PendingOperationRecord | PendingOperationRecordV1 | undefined;
  if (typeof record !== 'object' || record === null) return undefined;
  if (record.version === 2) return record;
  if (record.version !== 1) return undefined;
  return {
    version: 2,
    namespace: record.namespace,
    idempotencyKey: record.idempotencyKey,
    firstSubmittedAt: record.mutation.state.submittedAt,
    mutationKey: record.mutation.mutationKey ?? [],
    variables: record.mutation.state.variables,
    ...(record.mutation.meta && { meta: record.mutation.meta }),
    ...(record.mutation.scope && { scope: record.mutation.scope }),
  };
}

/**
 * Persists idempotent mutations in IndexedDB (through idb-keyval) from the
 * moment they are asked for until their outcome is known, tries again those
 * whose outcome is unknown, and resumes them with their keys when the app
 * starts again — never past the server's horizon.
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
  const cache = queryClient.getMutationCache();
  const namespace = opts.namespace ?? '';
  const onStorageError =
    opts.onStorageError ??
    ((error: unknown) => console.warn('trpc-idempotency: pending operations not persisted', error));
  const retryWaitingMs = opts.retryWaitingMs ?? defaultRetryWaitingMs;
  const procedures = registeredProcedures(opts.procedures as Record<string, AnyMutationOptions>);

  let store: UseStore | undefined = opts.store;
  /**
   * idb-keyval and the store, loaded and opened on first use: idb-keyval is
   * an optional peer, and IndexedDB may be missing (Node, some private modes).
   */
  let opened: { idb: Awaited<ReturnType<typeof loadIdbKeyval>>; store: UseStore } | undefined;
  async function loadStore() {
    const idb = await loadIdbKeyval();
    if (!store && typeof indexedDB === 'undefined') {
      throw new Error('IndexedDB is not available: pending operations cannot survive a reload');
    }
    store ??= idb.createStore(DEFAULT_STORE.database, DEFAULT_STORE.store);
    opened = { idb, store };
    return opened;
  }

  const recordId = (idempotencyKey: string) => [namespace, idempotencyKey];
  const lockName = (idempotencyKey: string) => `trpc-idempotency:${namespace}:${idempotencyKey}`;

  /** When each operation of this page was first asked for, by key. */
  const firstSubmitted = new Map<string, number>();
  /** Operations whose outcome is unknown, waiting to be tried again. */
  const waiting = new Map<
    string,
    { mutation: AnyMutation; round: number; timer?: ReturnType<typeof setTimeout> }
  >();
  /** Keys the user discarded while an attempt was on its way. */
  const discarded = new Set<string>();
  const resumed = new WeakSet<AnyMutation>();

  let storedHorizonMs: number | undefined;
  let horizonLoaded: Promise<void> | undefined;
  function loadHorizon() {
    horizonLoaded ??= (async () => {
      try {
        // Synchronous once open: writes and deletes reach IndexedDB in the order they are made.
        const { idb, store } = opened ?? (await loadStore());
        const stored = (await idb.get(HORIZON_ENTRY, store)) as { horizonMs?: unknown } | undefined;
        if (typeof stored?.horizonMs === 'number') storedHorizonMs = stored.horizonMs;
      } catch (error) {
        onStorageError(error);
      }
    })();
    return horizonLoaded;
  }
  async function storeHorizon(horizonMs: number) {
    storedHorizonMs = horizonMs;
    try {
      const { idb, store } = opened ?? (await loadStore());
      await idb.set(HORIZON_ENTRY, { horizonMs }, store);
    } catch (error) {
      onStorageError(error);
    }
  }
  function horizonMs() {
    return opts.horizonMs ?? learnedServerHorizon() ?? storedHorizonMs ?? FALLBACK_HORIZON_MS;
  }
  function pastHorizon(key: string) {
    const since = firstSubmitted.get(key);
    return since !== undefined && Date.now() - since > horizonMs();
  }

  /**
   * This namespace's operations known to have succeeded, within the horizon:
   * this page's, and those storage held when the first resume read it. Past
   * the horizon one is dropped: the server no longer knows its key, so the same
   * input submitted again is a new operation (SPEC 3.7, 7.10).
   */
  let completed: CompletedIntent[] = [];
  const withinHorizon = (intent: CompletedIntent) =>
    Date.now() - intent.firstSubmittedAt <= horizonMs();
  /** `intents` with `change` applied, those past the horizon dropped, the latest kept. */
  function revised(
    intents: CompletedIntent[],
    change: (all: CompletedIntent[]) => CompletedIntent[],
  ) {
    return change(intents)
      .filter(withinHorizon)
      .sort((a, b) => a.completedAt - b.completedAt)
      .slice(-MAX_COMPLETED_INTENTS);
  }
  const sameIntent = (a: CompletedIntent, b: { procedure: string; input: string }) =>
    a.procedure === b.procedure && a.input === b.input;

  /** Applies `change` to the completed intents here and, in one transaction, in storage. */
  async function reviseCompleted(change: (all: CompletedIntent[]) => CompletedIntent[]) {
    completed = revised(completed, change);
    try {
      const { idb, store } = opened ?? (await loadStore());
      await idb.update<CompletedIntentsRecord>(
        completedIntentsId(namespace),
        (stored) => ({
          format: 'completed-intents/1',
          namespace,
          intents: revised(readCompletedIntents(stored), change),
        }),
        store,
      );
    } catch (error) {
      onStorageError(error);
    }
  }

  /** Remembers that the operation `key` of `mutation` succeeded. */
  function rememberCompleted(mutation: AnyMutation, key: string, variables: unknown) {
    const mutationKey = mutation.options.mutationKey;
    if (!mutationKey) return;
    const intent: CompletedIntent = {
      procedure: hashKey(mutationKey),
      input: intentInputOf(variables),
      idempotencyKey: key,
      firstSubmittedAt: firstSubmitted.get(key) ?? Date.now(),
      completedAt: Date.now(),
    };
    void reviseCompleted((all) => [...all.filter((other) => !sameIntent(other, intent)), intent]);
  }

  /** The operation `key` remembered as done (within the horizon), if it is. */
  function doneBefore(key: string) {
    return completed.find((intent) => intent.idempotencyKey === key && withinHorizon(intent));
  }

  /** Adds what storage held to this page's completed intents (this page's win). */
  function loadCompleted(stored: unknown) {
    const here = completed;
    completed = revised(readCompletedIntents(stored), (all) => [
      ...all.filter((intent) => !here.some((mine) => sameIntent(mine, intent))),
      ...here,
    ]);
  }

  function completedIntent(mutationKey: MutationKey, input: unknown) {
    const wanted = { procedure: hashKey(mutationKey), input: intentInputOf(input) };
    const intent = completed.find((each) => sameIntent(each, wanted));
    return intent && withinHorizon(intent) ? intent.idempotencyKey : undefined;
  }

  async function forgetIntent(mutationKey: MutationKey, input: unknown) {
    const unwanted = { procedure: hashKey(mutationKey), input: intentInputOf(input) };
    await reviseCompleted((all) => all.filter((intent) => !sameIntent(intent, unwanted)));
  }

  async function persist(mutation: AnyMutation, key: string, variables: unknown) {
    const record: PendingOperationRecord = {
      version: 2,
      namespace,
      idempotencyKey: key,
      firstSubmittedAt: firstSubmitted.get(key) ?? Date.now(),
      mutationKey: mutation.options.mutationKey ?? [],
      variables,
      ...(mutation.options.meta && { meta: mutation.options.meta }),
      ...(mutation.options.scope && { scope: mutation.options.scope }),
    };
    try {
      const { idb, store } = opened ?? (await loadStore());
      await idb.set(recordId(key), record, store);
    } catch (error) {
      onStorageError(error);
    }
  }

  async function forget(key: string) {
    try {
      const { idb, store } = opened ?? (await loadStore());
      await idb.del(recordId(key), store);
    } catch (error) {
      onStorageError(error);
    }
  }

  function stopWaiting(key: string) {
    const entry = waiting.get(key);
    if (entry?.timer !== undefined) clearTimeout(entry.timer);
    if (entry) entry.timer = undefined;
  }

  let attached = 0;
  function armWaiting(key: string) {
    const entry = waiting.get(key);
    if (!entry || attached === 0 || entry.timer !== undefined) return;
    entry.timer = setTimeout(() => tryAgain(key), retryWaitingMs(entry.round));
  }

  /** Sends a waiting operation again, with its key (its execute carries the rest). */
  function tryAgain(key: string) {
    const entry = waiting.get(key);
    if (!entry) return;
    stopWaiting(key);
    entry.round++;
    entry.mutation.execute(entry.mutation.state.variables).catch(() => {});
  }

  /**
   * Ends an operation as `unknown` (SPEC 7.9, 7.10): never sent again. Its
   * mutation is replaced by one in that state, as the cache cannot be told.
   */
  function giveUp(key: string, why: OutcomeUnknownCause) {
    stopWaiting(key);
    waiting.delete(key);
    discarded.delete(key);
    void forget(key);
    const mutation = latestWithKey(key);
    if (!mutation) return;
    const state: MutationState = {
      ...mutation.state,
      status: 'error',
      error: new OutcomeUnknownError({ idempotencyKey: key, why }),
      isPaused: false,
    };
    const replacement = cache.build(queryClient, mutation.options, state);
    if (resumed.has(mutation)) resumed.add(replacement);
    cache.remove(mutation);
  }

  function latestWithKey(key: string) {
    return cache.findAll({ predicate: (m) => getIdempotencyKey(m.state.variables) === key }).at(-1);
  }

  /** The mutationFn every attempt goes through: after the record is written, under the key's lock. */
  function guardedMutationFn(
    mutationFn: NonNullable<MutationOptions['mutationFn']>,
    written: () => Promise<void> | undefined,
  ): NonNullable<MutationOptions['mutationFn']> {
    return async (variables, context) => {
      await written();
      const key = getIdempotencyKey(variables);
      const locks = webLocks();
      if (!locks || key === undefined) return mutationFn(variables, context);
      return locks.request(lockName(key), () => mutationFn(variables, context));
    };
  }

  /**
   * Makes `mutation` one of the persisted operations: a key when it has none
   * (once, so every retry and re-run sends it), the record written before its
   * first request, and its outcome handled when it settles. Mutations of
   * other procedures are left alone.
   */
  function instrument(mutation: AnyMutation) {
    const mutationKey = mutation.options.mutationKey;
    if (INSTRUMENTED in mutation || !mutationKey || !procedures.has(hashKey(mutationKey))) return;
    // One owner per mutation, whichever instance (or copy of this package) saw it first.
    Object.defineProperty(mutation, INSTRUMENTED, { value: namespace });
    let written: Promise<void> | undefined;
    // The options through an accessor: TanStack Query replaces them (an observer's
    // re-render), and every version must write the record before it sends.
    let options = mutation.options;
    const wrap = (next: typeof options) =>
      next.mutationFn
        ? { ...next, mutationFn: guardedMutationFn(next.mutationFn, () => written) }
        : next;
    options = wrap(options);
    Object.defineProperty(mutation, 'options', {
      configurable: true,
      get: () => options,
      set: (next: typeof options) => {
        options = wrap(next);
      },
    });

    const execute = mutation.execute.bind(mutation);
    let ownKey: string | undefined;
    mutation.execute = async (variables: unknown) => {
      ownKey ??= randomKey();
      const key = getIdempotencyKey(variables) ?? ownKey;
      const keyed = keyedVariables(variables, key);
      if (keyed === undefined) return execute(variables);
      if (pastHorizon(key)) {
        const error = new OutcomeUnknownError({ idempotencyKey: key, why: 'past-horizon' });
        giveUp(key, 'past-horizon');
        throw error;
      }
      stopWaiting(key);
      // Sent again once it is done (a resubmission, after a reload too): the server replays it.
      const done = doneBefore(key);
      if (done) markDoneBefore(mutation);
      if (!firstSubmitted.has(key)) firstSubmitted.set(key, done?.firstSubmittedAt ?? Date.now());
      written = persist(mutation, key, keyed);
      try {
        const data = await execute(keyed);
        settled(key);
        rememberCompleted(mutation, key, keyed);
        return data;
      } catch (error) {
        if (isRetryableError(error) && !isOutcomeUnknown(error)) unresolved(mutation, key);
        else settled(key);
        // It ran; the server no longer keeps its response.
        if (isIdempotencyOutcomeExpired(error)) rememberCompleted(mutation, key, keyed);
        throw error;
      }
    };
  }

  /** Its outcome is known: nothing to keep. */
  function settled(key: string) {
    stopWaiting(key);
    waiting.delete(key);
    discarded.delete(key);
    void forget(key);
  }

  /** Its outcome is unknown: kept, and tried again later (or given up, if discarded meanwhile). */
  function unresolved(mutation: AnyMutation, key: string) {
    if (discarded.has(key)) {
      giveUp(key, 'discarded');
      return;
    }
    const entry = waiting.get(key);
    if (entry) entry.mutation = mutation;
    else waiting.set(key, { mutation, round: 0 });
    armWaiting(key);
  }

  let detach: (() => void) | undefined;
  function start() {
    attached++;
    if (attached === 1) {
      void loadHorizon();
      const unsubscribeCache = cache.subscribe((event) => {
        if (event.type === 'added') instrument(event.mutation);
        else if (event.type === 'removed') {
          const key = getIdempotencyKey(event.mutation.state.variables);
          if (key !== undefined && waiting.get(key)?.mutation === event.mutation) {
            stopWaiting(key);
            waiting.delete(key);
          }
        }
      });
      const unsubscribeOnline = onlineManager.subscribe((online) => {
        if (online) for (const key of waiting.keys()) tryAgain(key);
      });
      const unsubscribeHorizon = onServerHorizon((learned) => void storeHorizon(learned));
      for (const key of waiting.keys()) armWaiting(key);
      detach = () => {
        unsubscribeCache();
        unsubscribeOnline();
        unsubscribeHorizon();
        for (const key of waiting.keys()) stopWaiting(key);
      };
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      attached--;
      if (attached === 0) detach?.();
    };
  }

  async function heldByOthers(): Promise<ReadonlySet<string>> {
    const locks = webLocks();
    if (!locks) return new Set();
    const { held = [] } = await locks.query();
    return new Set(held.map((lock) => lock.name ?? ''));
  }

  let resuming: Promise<AnyMutation[]> | undefined;
  /** The first resume, until it is over. */
  let firstResume: Promise<void> | undefined;
  let firstResumeDone = false;
  async function resumeOnce(): Promise<AnyMutation[]> {
    let records: Array<[IDBValidKey, unknown]>;
    try {
      const { idb, store } = opened ?? (await loadStore());
      records = await idb.entries(store);
    } catch (error) {
      onStorageError(error);
      return [];
    }
    await loadHorizon();
    const held = await heldByOthers();
    const inCache = new Set(cache.getAll().map((m) => getIdempotencyKey(m.state.variables)));
    loadCompleted(records.find(([id]) => id === completedIntentsId(namespace))?.[1]);
    const restored: AnyMutation[] = [];
    for (const [, value] of records) {
      const record = readRecord(value);
      if (!record || record.namespace !== namespace) continue;
      const key = record.idempotencyKey;
      // Running here already, or in another tab (which holds its lock while it runs).
      if (inCache.has(key) || held.has(lockName(key))) continue;
      const options = procedures.get(hashKey(record.mutationKey));
      if (!options) {
        onStorageError(
          new Error(
            `pending operation ${key} is for mutation ${JSON.stringify(record.mutationKey)}, which is not among \`procedures\`: left in storage`,
          ),
        );
        continue;
      }
      firstSubmitted.set(key, record.firstSubmittedAt);
      const tooOld = pastHorizon(key);
      const state: MutationState = {
        context: undefined,
        data: undefined,
        error: tooOld
          ? new OutcomeUnknownError({ idempotencyKey: key, why: 'past-horizon' })
          : null,
        failureCount: 0,
        failureReason: null,
        isPaused: false,
        status: tooOld ? 'error' : 'pending',
        variables: record.variables,
        submittedAt: record.firstSubmittedAt,
      };
      const mutation = cache.build(
        queryClient,
        {
          ...withIdempotentRetries(options),
          ...(record.meta && { meta: record.meta }),
          ...(record.scope && { scope: record.scope }),
        },
        state,
      );
      inCache.add(key);
      restored.push(mutation);
      if (tooOld) {
        // Never sent again: its key may be free on the server, and a resend would run it twice.
        void forget(key);
        continue;
      }
      resumed.add(mutation);
      // Its outcome reaches the UI through the cache, like any mutation's.
      mutation.continue().catch(() => {});
    }
    return restored;
  }

  async function resume() {
    const stop = start();
    try {
      // Two calls at once (StrictMode runs effects twice) resume once.
      resuming ??= resumeOnce().finally(() => {
        resuming = undefined;
        firstResumeDone = true;
      });
      firstResume ??= resuming.then(
        () => {},
        () => {},
      );
      return await resuming;
    } finally {
      stop();
    }
  }

  async function discard(idempotencyKey: string) {
    const mutation = latestWithKey(idempotencyKey);
    if (mutation?.state.status === 'pending' && !mutation.state.isPaused) {
      // An attempt is on its way: its answer decides, or it ends unknown.
      discarded.add(idempotencyKey);
      return;
    }
    giveUp(idempotencyKey, 'discarded');
  }

  return {
    namespace,
    start,
    mutationOptions: withIdempotentRetries,
    resume,
    discard,
    wasResumed: (mutation) => resumed.has(mutation),
    completedIntent,
    forgetIntent,
    resumed: () => (firstResumeDone ? undefined : firstResume),
    horizonMs,
  };
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
