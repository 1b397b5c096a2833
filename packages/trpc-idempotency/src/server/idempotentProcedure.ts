import {
  type TRPCCombinedDataTransformer,
  type TRPCDataTransformer,
  TRPCError,
} from '@trpc/server';
import {
  type AnyProcedureBuilder,
  asInputStep,
  type DefaultErrorData,
  inputWithStep,
  type Overwrite,
  outputTransformer,
  type Parser,
  type ProcedureBuilder,
  type RootErrorFormatter,
  readProcedureConfig,
  type Simplify,
  setErrorShape,
  type TRPCErrorShape,
} from '../internal/trpc';
import type { IdempotencyErrorData } from '../shared/reasons';
import type { AnyIdempotencyStore, IdempotencyStore } from '../store/store';
import { type Chain, type ResolverOpts, wrapBuilder } from './builderChain';
import { getIdempotencyErrorData } from './errors';
import type { IdempotencyEventHandler } from './events';
import { createExecutor, type InFlightOptions, isReplayedError } from './executor';
import { fingerprintInput } from './fingerprint';
import type {
  IdempotencyHandle,
  LeaseIdempotencyHandle,
  TransactionalIdempotencyHandle,
} from './handle';
import type { IdempotentProcedureBuilder, IntersectIfDefined } from './idempotentProcedureBuilder';
import {
  createKeyParser,
  type IdempotencyKeyInput,
  IdempotencyKeyInvalidError,
  type IdempotencyKeyOutput,
  type KeyFormat,
} from './keyFormat';
import { createOutcomeCodec, isFinalErrorDefault } from './outcome';
import { recordReplay } from './responseHeaders';

/**
 * `transactional` (default): the handler writes through `ctx.idempotency.commit`
 * and its writes commit with the record. `lease`: for effects outside the
 * database; the record is guarded by a lease and fenced completion.
 * @see README.md#modes
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
   * tenant id). The same key under two scopes is two operations
   * (README.md#scope-and-security).
   */
  scope: (opts: { ctx: TCtx; path: string }) => string;
  /** Default `transactional`. */
  mode?: TMode;
  /**
   * How long a completed record is replayed, in ms, counted from its
   * completion. Default 24 hours. Independent of `leaseMs`: an abandoned
   * in-progress record (lease mode) stays bound to its input for a full TTL
   * after its lease.
   */
  ttlMs?: number;
  /**
   * Lease mode: how long an execution owns its record before a retry may
   * take it over, in ms. Default 30 s.
   */
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
  /**
   * Serializer for stored results. Default: the transformer of the tRPC
   * instance `procedure` comes from (`initTRPC.create({ transformer })`), so a
   * replayed `Date` is a `Date` with superjson. Set it only to store outcomes
   * differently; for a builder that carries no tRPC config it is required.
   */
  transformer?: TRPCDataTransformer | TRPCCombinedDataTransformer;
  /** Time source in epoch ms for leases and expiry (tests). Default `Date.now`. */
  clock?: () => number;
  /** Receives an event for every request's outcome. */
  onEvent?: IdempotencyEventHandler;
}

/** The `ctx.idempotency` a handler gets for a store and mode. */
export type inferIdempotencyHandle<TStore, TMode extends IdempotencyMode> = TMode extends 'lease'
  ? LeaseIdempotencyHandle
  : TStore extends IdempotencyStore<infer TTx>
    ? TransactionalIdempotencyHandle<TTx, TStore['transactionKind']>
    : never;

/** The error shape idempotency errors have on the wire. */
export type IdempotencyErrorShape = TRPCErrorShape<DefaultErrorData & IdempotencyErrorData>;

export type { IdempotentProcedureBuilder } from './idempotentProcedureBuilder';

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
 * procedure, just before the resolver: rejected input stores nothing
 * (README.md#middleware-order).
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
  IntersectIfDefined<TInputIn, IdempotencyKeyInput>,
  IntersectIfDefined<TInputOut, IdempotencyKeyOutput>,
  TOutputIn,
  TOutputOut,
  TCaller,
  TErrorShape | IdempotencyErrorShape,
  inferIdempotencyHandle<TStore, TMode>
> {
  const procedure = opts.procedure as unknown as AnyProcedureBuilder;
  const config = readProcedureConfig(procedure);
  const transformer = opts.transformer ?? config.transformer;
  if (!transformer) {
    throw new TypeError(
      'idempotentProcedure: cannot read the transformer of the tRPC instance `procedure` comes from: pass the `transformer` option (the one you gave initTRPC.create(), or { serialize: (v) => v, deserialize: (v) => v } if none)',
    );
  }
  const { isDev, errorFormatter } = config;
  /** Formats an idempotency error as `getErrorShape` would, with its `data.reason` added. */
  const formatShape = (error: TRPCError, at: { path: string; ctx: unknown; input: unknown }) =>
    formatIdempotencyShape(error, { ...at, isDev, errorFormatter });
  const mode: IdempotencyMode = opts.mode ?? 'transactional';
  const executor = createExecutor({
    store: opts.store,
    mode,
    codec: createOutcomeCodec({
      transformer: outputTransformer(transformer),
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

  const parseKey = createKeyParser(opts.keyFormat).parse;

  /**
   * The key of a raw input, or the `400` of README.md#errors: the same `BAD_REQUEST` tRPC
   * makes of a failing input parser, its shape already formatted (no later
   * formatter can take it over, as when a parser before every `.errors()`
   * threw it).
   */
  const keyOf = (rawInput: unknown, path: string, ctx: unknown) => {
    try {
      return parseKey(rawInput).idempotencyKey;
    } catch (cause) {
      const error = new TRPCError({ code: 'BAD_REQUEST', cause });
      if (cause instanceof IdempotencyKeyInvalidError) {
        formatShape(error, { path, ctx, input: rawInput });
      }
      throw error;
    }
  };

  /** The key as an input step of its own: for a chain whose first step is not `.input()`. */
  const keyMiddleware = asInputStep(async (mw) => {
    const idempotencyKey = keyOf(await mw.getRawInput(), mw.path, mw.ctx);
    return mw.next({ input: withKey(mw.input, idempotencyKey) });
  });

  /**
   * The key check fused into the first `.input()` of the chain: one step
   * where there would be two, same order (the key first, so a request with a
   * bad key and bad fields gets the key's `400`), same errors, same merged input.
   */
  const withKeyAndInput = (builder: AnyProcedureBuilder, parser: Parser) =>
    inputWithStep(builder, parser, (parse) => async (mw) => {
      const rawInput = await mw.getRawInput();
      const idempotencyKey = keyOf(rawInput, mw.path, mw.ctx);
      let parsed: unknown;
      try {
        parsed = await parse(rawInput);
      } catch (cause) {
        throw new TRPCError({ code: 'BAD_REQUEST', cause });
      }
      const input = withKey(mw.input, idempotencyKey);
      return mw.next({ input: isObject(parsed) ? { ...input, ...parsed } : parsed });
    });

  const wrapResolver =
    (resolver: (resolverOpts: ResolverOpts) => unknown, chain: Chain) =>
    async (resolverOpts: ResolverOpts) => {
      try {
        let { input } = resolverOpts;
        if (!chain.keyChecked) {
          input = withKey(
            input,
            keyOf(await resolverOpts.getRawInput(), resolverOpts.path, resolverOpts.ctx),
          );
        }
        const scope = opts.scope({ ctx: resolverOpts.ctx as never, path: resolverOpts.path });
        if (typeof scope !== 'string' || scope === '') {
          throw new TRPCError({
            code: 'INTERNAL_SERVER_ERROR',
            message: `idempotency scope for \`${resolverOpts.path}\` is empty: the scope option must return a non-empty string`,
          });
        }
        const call = {
          scope,
          key: input.idempotencyKey,
          path: resolverOpts.path,
          fingerprint: fingerprintOf(await resolverOpts.getRawInput()),
        };
        const { value, replayed } = await executor.execute(call, (idempotency: IdempotencyHandle) =>
          Promise.resolve(
            resolver({ ...resolverOpts, input, ctx: { ...resolverOpts.ctx, idempotency } }),
          ),
        );
        recordReplay(resolverOpts.ctx, resolverOpts.batchIndex ?? 0, replayed);
        return value;
      } catch (error) {
        if (isReplayedError(error))
          recordReplay(resolverOpts.ctx, resolverOpts.batchIndex ?? 0, true);
        // Without a `.errors()` of the user's in the chain, nothing formats between
        // here and the root: give idempotency errors their `data.reason` now.
        if (!chain.formatterInChain && error instanceof TRPCError) {
          formatShape(error, {
            path: resolverOpts.path,
            ctx: resolverOpts.ctx,
            input: resolverOpts.input,
          });
        }
        throw error;
      }
    };

  return wrapBuilder(
    procedure,
    { keyChecked: false, formatterInChain: false },
    {
      wrapResolver,
      withKeyAndInput,
      keyMiddleware,
    },
  ) as never;
}

/**
 * Sets `error`'s wire shape with `data.reason` if it is an idempotency error
 * (`.errors()` does the same). The root error formatter sees idempotency
 * errors as it sees every other error (it may add a request id, hide a
 * message); the reason goes on top of what it returns.
 */
function formatIdempotencyShape(
  error: TRPCError,
  opts: {
    path: string;
    ctx: unknown;
    input: unknown;
    isDev: boolean;
    errorFormatter: RootErrorFormatter | undefined;
  },
) {
  const reason = getIdempotencyErrorData(error);
  if (!reason) return;
  setErrorShape(error, { path: opts.path, isDev: opts.isDev }, (shape) => {
    const formatted =
      opts.errorFormatter?.({
        error,
        type: 'mutation',
        path: opts.path,
        input: opts.input,
        ctx: opts.ctx,
        shape,
      }) ?? shape;
    return { ...formatted, data: { ...formatted.data, ...reason } };
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && !Array.isArray(value) && typeof value === 'object';
}

/** `input` with the key merged in, as tRPC merges the outputs of two input parsers. */
function withKey(input: unknown, idempotencyKey: string): IdempotencyKeyOutput {
  return isObject(input) ? { ...input, idempotencyKey } : { idempotencyKey };
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
