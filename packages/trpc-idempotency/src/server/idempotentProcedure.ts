import type { TRPCCombinedDataTransformer, TRPCDataTransformer } from '@trpc/server';
import {
  type AnyProcedureBuilder,
  type DefaultErrorData,
  inputTransformer,
  type Overwrite,
  outputTransformer,
  type ProcedureBuilder,
  readProcedureConfig,
  type Simplify,
  type TRPCErrorShape,
} from '../internal/trpc';
import type { IdempotencyErrorData } from '../shared/reasons';
import type { AnyIdempotencyStore, IdempotencyStore } from '../store/store';
import { idempotentBuilder } from './builderSteps';
import { createEngine, type InFlightOptions } from './engine';
import type { IdempotencyEventHandler } from './events';
import type { LeaseIdempotencyHandle, TransactionalIdempotencyHandle } from './handle';
import type { IdempotentProcedureBuilder, IntersectIfDefined } from './idempotentProcedureBuilder';
import {
  createKeyParser,
  type IdempotencyKeyInput,
  type IdempotencyKeyOutput,
  type KeyFormat,
} from './keyFormat';
import { createOutcomeCodec, isFinalErrorDefault } from './outcome';
import { createTelemetry, type IdempotencyTelemetryOptions } from './telemetry';

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
   * How long a completed record keeps its key bound, in ms, counted from its
   * completion: after `ttlMs` it stays as a tombstone (its response dropped)
   * until then, and a retry of the same operation answers
   * `IDEMPOTENCY_OUTCOME_EXPIRED` instead of running again (other input, a
   * 422); after it the key is free. Default 30 days, or `ttlMs` if longer;
   * never below `ttlMs` (a `RangeError`). Clients learn it from the
   * `Idempotency-Horizon-Ms` header and `data.horizonMs` of idempotency errors.
   */
  horizonMs?: number;
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
  /**
   * OpenTelemetry providers for this builder's spans and metrics. Default:
   * the global ones, when `@opentelemetry/api` is installed
   * (README.md#opentelemetry).
   */
  telemetry?: IdempotencyTelemetryOptions;
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
  horizonMs: 30 * 24 * 60 * 60 * 1000,
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
  const wire = inputTransformer(config.transformer ?? transformer);
  const mode: IdempotencyMode = opts.mode ?? 'transactional';
  const ttlMs = positive('ttlMs', opts.ttlMs ?? DEFAULTS.ttlMs);
  const horizonMs = positive('horizonMs', opts.horizonMs ?? Math.max(DEFAULTS.horizonMs, ttlMs));
  if (horizonMs < ttlMs) {
    throw new RangeError(
      `idempotentProcedure: horizonMs (${horizonMs}) must be at least ttlMs (${ttlMs}): a key stays bound at least as long as its response is replayed`,
    );
  }
  const engine = createEngine({
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
    ttlMs,
    horizonMs,
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
    telemetry: createTelemetry(opts.telemetry),
  });

  return idempotentBuilder(procedure, {
    engine,
    parseKey: createKeyParser(opts.keyFormat).parse,
    scope: opts.scope as (scopeOpts: { ctx: never; path: string }) => string,
    // Inputs are fingerprinted with what the wire carries of them: the instance's transformer.
    fingerprint: { serialize: (value) => wire.serialize(value) },
    onEvent: opts.onEvent,
    config,
    horizonMs,
  }) as never;
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
