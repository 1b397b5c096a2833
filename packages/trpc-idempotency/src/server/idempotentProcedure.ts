import { TRPCError } from '@trpc/server';
import type {
  AnyProcedureBuilder,
  DefaultErrorData,
  Overwrite,
  ProcedureBuilder,
  Simplify,
  TRPCErrorShape,
  UnsetMarker,
} from '@trpc/server/unstable-core-do-not-import';
import type { IdempotencyErrorData } from '../shared/reasons';
import { formatIdempotencyError } from './errors';
import type { IdempotencyEventHandler } from './events';
import {
  createExecutor,
  type IdempotencyHandle,
  type InFlightOptions,
  type TransactionalIdempotencyHandle,
} from './executor';
import { fingerprintInput } from './fingerprint';
import {
  createKeyParser,
  type IdempotencyKeyInput,
  type IdempotencyKeyOutput,
  type KeyFormat,
} from './keyFormat';
import { createOutcomeCodec, isFinalErrorDefault, type OutcomeTransformer } from './outcome';
import type { AnyIdempotencyStore, IdempotencyStore } from './store';

/**
 * `transactional` (default): the handler writes through `ctx.idempotency.commit`
 * and its writes commit with the record (SPEC 5). `lease`: for effects outside
 * the database; the record is guarded by a lease and fenced completion (SPEC 3.4).
 */
export type IdempotencyMode = 'transactional' | 'lease';

/**
 * Options of {@link idempotentProcedure}.
 * @see README.md#options
 */
export interface IdempotentProcedureOptions<
  TBuilder,
  TCtx,
  TStore extends AnyIdempotencyStore,
  TMode extends IdempotencyMode,
> {
  /** Your base procedure (e.g. `t.procedure` or an authenticated one). */
  procedure: TBuilder;
  /** Where records live. */
  store: TStore;
  /**
   * The principal a key belongs to, from the request context (a user or
   * tenant id). The same key under two scopes is two operations (SPEC 1.4).
   */
  scope: (opts: { ctx: TCtx; path: string }) => string;
  /** Default `transactional`. */
  mode?: TMode;
  /** How long a completed record is replayed, in ms. Default 24 hours. */
  ttlMs?: number;
  /** How long an execution owns its record before others may take over, in ms. Default 30 s. */
  leaseMs?: number;
  /** What a duplicate does while the first request is still running. */
  inFlight?: InFlightOptions;
  /**
   * Which handler errors are final (stored and replayed). Default: `TRPCError`s
   * with a 4xx code except `TOO_MANY_REQUESTS`, `TIMEOUT`, `CLIENT_CLOSED_REQUEST`.
   */
  isFinalError?: (error: unknown) => boolean;
  /** Accepted key shape. Default 16–255 characters of `[A-Za-z0-9._:-]`. */
  keyFormat?: KeyFormat;
  /** Largest stored outcome, in bytes of JSON. Default 1 MiB. */
  maxResponseBytes?: number;
  /** Serializer for stored results: pass your tRPC transformer (e.g. superjson). Default JSON. */
  transformer?: OutcomeTransformer;
  /** Time source in epoch ms for leases and expiry (tests). Default `Date.now`. */
  clock?: () => number;
  /** Receives an event for every request's outcome. */
  onEvent?: IdempotencyEventHandler;
}

/** The `ctx.idempotency` a handler gets for a store and mode. */
export type inferIdempotencyHandle<TStore, TMode extends IdempotencyMode> = TMode extends 'lease'
  ? IdempotencyHandle
  : TStore extends IdempotencyStore<infer TTx>
    ? TransactionalIdempotencyHandle<TTx, TStore['transactionKind']>
    : never;

type IntersectIfDefined<TType, TWith> = TType extends UnsetMarker ? TWith : Simplify<TType & TWith>;

/** The error shape idempotency errors have on the wire. */
export type IdempotencyErrorShape = TRPCErrorShape<DefaultErrorData & IdempotencyErrorData>;

/**
 * The builder {@link idempotentProcedure} returns: the user's own builder with
 * the key in its input and `ctx.idempotency` in the resolver's context.
 */
export type IdempotentProcedureBuilder<
  TContext,
  TMeta,
  TContextOverrides,
  TInputIn,
  TInputOut,
  TOutputIn,
  TOutputOut,
  TCaller extends boolean,
  TErrorShape,
  THandle,
> = ProcedureBuilder<
  TContext,
  TMeta,
  Overwrite<TContextOverrides, { idempotency: THandle }>,
  IntersectIfDefined<TInputIn, IdempotencyKeyInput>,
  IntersectIfDefined<TInputOut, IdempotencyKeyOutput>,
  TOutputIn,
  TOutputOut,
  TCaller,
  TErrorShape | IdempotencyErrorShape
>;

const DEFAULTS = {
  ttlMs: 24 * 60 * 60 * 1000,
  leaseMs: 30_000,
  maxResponseBytes: 1024 * 1024,
  inFlight: { policy: 'wait', timeoutMs: 5_000, retryAfterMs: 1_000 },
} as const;

/**
 * Makes a procedure builder whose mutations are idempotent: they require an
 * `idempotencyKey` in their input, run at most once per `(scope, key)`, and
 * answer every retry with the identical stored outcome.
 *
 * ```ts
 * const idempotent = idempotentProcedure({
 *   procedure: authedProcedure,
 *   store: sqliteIdempotencyStore({ db }),
 *   scope: ({ ctx }) => ctx.user.id,
 * });
 * const pay = idempotent.input(z.object({ amount: z.number() })).mutation(...);
 * ```
 *
 * The idempotency step runs after every middleware and input parser of the
 * procedure, just before the resolver: rejected input stores nothing (SPEC 4.6).
 * @see README.md#quickstart
 */
export function idempotentProcedure<
  TContext,
  TMeta,
  TContextOverrides,
  TInputIn,
  TInputOut,
  TOutputIn,
  TOutputOut,
  TCaller extends boolean,
  TErrorShape,
  TStore extends AnyIdempotencyStore,
  TMode extends IdempotencyMode = 'transactional',
>(
  opts: IdempotentProcedureOptions<
    ProcedureBuilder<
      TContext,
      TMeta,
      TContextOverrides,
      TInputIn,
      TInputOut,
      TOutputIn,
      TOutputOut,
      TCaller,
      TErrorShape
    >,
    Simplify<Overwrite<TContext, TContextOverrides>>,
    TStore,
    TMode
  >,
): IdempotentProcedureBuilder<
  TContext,
  TMeta,
  TContextOverrides,
  TInputIn,
  TInputOut,
  TOutputIn,
  TOutputOut,
  TCaller,
  TErrorShape,
  inferIdempotencyHandle<TStore, TMode>
> {
  const mode: IdempotencyMode = opts.mode ?? 'transactional';
  const executor = createExecutor({
    store: opts.store,
    transactional: mode === 'transactional',
    codec: createOutcomeCodec({
      transformer: opts.transformer,
      maxResponseBytes: positive(
        'maxResponseBytes',
        opts.maxResponseBytes ?? DEFAULTS.maxResponseBytes,
      ),
    }),
    clock: opts.clock ?? Date.now,
    ttlMs: positive('ttlMs', opts.ttlMs ?? DEFAULTS.ttlMs),
    leaseMs: positive('leaseMs', opts.leaseMs ?? DEFAULTS.leaseMs),
    inFlight: {
      policy: opts.inFlight?.policy ?? DEFAULTS.inFlight.policy,
      timeoutMs: nonNegative(
        'inFlight.timeoutMs',
        opts.inFlight?.timeoutMs ?? DEFAULTS.inFlight.timeoutMs,
      ),
      retryAfterMs: positive(
        'inFlight.retryAfterMs',
        opts.inFlight?.retryAfterMs ?? DEFAULTS.inFlight.retryAfterMs,
      ),
    },
    isFinalError: opts.isFinalError ?? isFinalErrorDefault,
    onEvent: opts.onEvent,
  });

  const wrapResolver =
    (resolver: (resolverOpts: ResolverOpts) => unknown) => async (resolverOpts: ResolverOpts) => {
      const scope = opts.scope({ ctx: resolverOpts.ctx as never, path: resolverOpts.path });
      if (typeof scope !== 'string' || scope === '') {
        throw new TRPCError({
          code: 'INTERNAL_SERVER_ERROR',
          message: `idempotency scope for \`${resolverOpts.path}\` is empty: the scope option must return a non-empty string`,
        });
      }
      const call = {
        scope,
        key: resolverOpts.input.idempotencyKey,
        path: resolverOpts.path,
        fingerprint: fingerprintOf(await resolverOpts.getRawInput()),
      };
      return executor.execute(call, (handle) => {
        const idempotency =
          mode === 'lease' ? withoutCommit(handle) : (handle as IdempotencyHandle);
        return Promise.resolve(
          resolver({ ...resolverOpts, ctx: { ...resolverOpts.ctx, idempotency } }),
        );
      });
    };

  const base = (opts.procedure as unknown as AnyProcedureBuilder)
    .errors(formatIdempotencyError)
    .input(createKeyParser(opts.keyFormat));
  return wrapBuilder(base, wrapResolver) as never;
}

interface ResolverOpts {
  ctx: Record<string, unknown>;
  input: IdempotencyKeyOutput;
  path: string;
  getRawInput: () => Promise<unknown>;
}

function fingerprintOf(rawInput: unknown) {
  try {
    return fingerprintInput(rawInput);
  } catch (cause) {
    throw new TRPCError({
      code: 'BAD_REQUEST',
      message: cause instanceof Error ? cause.message : 'input cannot be fingerprinted',
      cause,
    });
  }
}

function withoutCommit(handle: IdempotencyHandle): IdempotencyHandle {
  const { key, scope, attempt } = handle;
  return {
    key,
    scope,
    attempt,
    renewLease: () => handle.renewLease(),
    downstreamKey: (namespace) => handle.downstreamKey(namespace),
  };
}

/**
 * Every builder derived from ours (`.input`, `.use`, `.meta`, …) stays ours,
 * and `.mutation` wraps the resolver in the idempotency step. Queries and
 * subscriptions are not idempotent operations and are refused.
 */
function wrapBuilder(
  builder: AnyProcedureBuilder,
  wrapResolver: (resolver: (opts: ResolverOpts) => unknown) => (opts: ResolverOpts) => unknown,
): AnyProcedureBuilder {
  return new Proxy(builder, {
    get(target, prop, receiver) {
      if (prop === 'mutation') {
        return (resolver: (opts: ResolverOpts) => unknown) =>
          target.mutation(wrapResolver(resolver) as never);
      }
      if (prop === 'query' || prop === 'subscription') {
        return () => {
          throw new TypeError(
            `idempotentProcedure builds mutations only: .${prop}() has no effect to deduplicate`,
          );
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        return isBuilder(result) ? wrapBuilder(result, wrapResolver) : result;
      };
    },
  });
}

function isBuilder(value: unknown): value is AnyProcedureBuilder {
  return (
    typeof value === 'object' &&
    value !== null &&
    '_def' in value &&
    typeof (value as { mutation?: unknown }).mutation === 'function'
  );
}

function positive(name: string, value: number) {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `idempotentProcedure: ${name} must be a positive number of ms, got ${value}`,
    );
  }
  return value;
}

function nonNegative(name: string, value: number) {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`idempotentProcedure: ${name} must be ≥ 0, got ${value}`);
  }
  return value;
}
