/**
 * Every use of tRPC's internals (`@trpc/server/unstable-core-do-not-import`)
 * in this package, in one place. Each one says what it buys; the speed figures
 * are per call, measured on Node 20 with `test/trpcInternals.bench.ts` (a
 * tRPC caller, no store: only the tRPC step differs). Where tRPC's public
 * API would cost at most 3 µs per call, the public API is used instead.
 *
 * The builder's tests run against the dev `@trpc/server` and against one no
 * newer than the peer range's lowest (`vitest.config.ts`, project
 * `trpc-lowest`), so a change in these internals shows up there first.
 */
import type {
  AnyTRPCMiddlewareFunction as AnyMiddlewareFunction,
  AnyTRPCProcedure,
  AnyTRPCRouter,
  TRPCCombinedDataTransformer,
  TRPCDataTransformer,
  TRPCError,
  TRPCErrorShape,
} from '@trpc/server';
import {
  type AnyProcedureBuilder,
  createBuilder,
  getDefaultErrorShape,
  getParseFn,
  isFormattedErrorShape,
  type Parser,
  setFormattedErrorShape,
} from '@trpc/server/unstable-core-do-not-import';

/** The procedure builder's parts that `@trpc/server` exports publicly, under their internal names. */
export type {
  AnyTRPCMiddlewareFunction as AnyMiddlewareFunction,
  TRPCDefaultErrorData as DefaultErrorData,
  TRPCErrorShape,
  TRPCMiddlewareBuilder as MiddlewareBuilder,
  TRPCMiddlewareFunction as MiddlewareFunction,
  TRPCMutationProcedure as MutationProcedure,
  TRPCProcedureBuilder as ProcedureBuilder,
  TRPCUnsetMarker as UnsetMarker,
} from '@trpc/server';

/**
 * Types only (erased at build time) that tRPC exports from its internals
 * alone; the builder's own type is written with them, as tRPC's is.
 */
export type {
  AnyProcedureBuilder,
  CallerOverride,
  inferParser,
  MaybePromise,
  Overwrite,
  Parser,
  ProcedureErrorFormatter,
  ProcedureResolverOptions,
  Simplify,
  TypeError as TRPCTypeError,
} from '@trpc/server/unstable-core-do-not-import';

/** What the builder needs from the `initTRPC` instance a procedure builder belongs to. */
export interface ProcedureConfig {
  /**
   * The instance's transformer, as `initTRPC.create({ transformer })`
   * normalized it; `undefined` when the builder carries no config.
   */
  transformer: TRPCCombinedDataTransformer | undefined;
  /** Whether error shapes carry stacks (`initTRPC.create({ isDev })`, else tRPC's default). */
  isDev: boolean;
  /**
   * The instance's `errorFormatter`, so idempotency errors (whose shape the
   * builder sets itself, see `setErrorShape`) pass through it like any other.
   */
  errorFormatter: RootErrorFormatter | undefined;
}

/** A root `errorFormatter` as `initTRPC.create({ errorFormatter })` keeps it. */
export type RootErrorFormatter = (opts: {
  error: TRPCError;
  type: 'mutation';
  path: string;
  input: unknown;
  ctx: unknown;
  shape: TRPCErrorShape;
}) => TRPCErrorShape;

/**
 * The root config a procedure builder carries (`_def.config`, set by
 * `initTRPC.create()` on `t.procedure` and kept by every builder derived
 * from it). No public API exposes a builder's transformer, and the builder
 * needs it so a stored outcome replays as the wire would carry it (a `Date`
 * stays a `Date` with superjson).
 */
export function readProcedureConfig(builder: AnyProcedureBuilder): ProcedureConfig {
  const config: unknown = (builder as { _def?: { config?: unknown } })._def?.config;
  const { transformer, isDev, errorFormatter } = (
    typeof config === 'object' && config !== null ? config : {}
  ) as {
    transformer?: unknown;
    isDev?: unknown;
    errorFormatter?: unknown;
  };
  return {
    transformer: isCombinedTransformer(transformer) ? transformer : undefined,
    errorFormatter:
      typeof errorFormatter === 'function' ? (errorFormatter as RootErrorFormatter) : undefined,
    // tRPC's own default when `isDev` is not set.
    isDev:
      typeof isDev === 'boolean' ? isDev : globalThis.process?.env?.['NODE_ENV'] !== 'production',
  };
}

/** A transformer in either form `initTRPC.create({ transformer })` takes, as the output half. */
export function outputTransformer(
  transformer: TRPCDataTransformer | TRPCCombinedDataTransformer,
): TRPCDataTransformer {
  return isCombinedTransformer(transformer) ? transformer.output : transformer;
}

/** A transformer in either form `initTRPC.create({ transformer })` takes, as the input half. */
export function inputTransformer(
  transformer: TRPCDataTransformer | TRPCCombinedDataTransformer,
): TRPCDataTransformer {
  return isCombinedTransformer(transformer) ? transformer.input : transformer;
}

function isCombinedTransformer(value: unknown): value is TRPCCombinedDataTransformer {
  return (
    typeof value === 'object' &&
    value !== null &&
    'output' in value &&
    typeof (value as TRPCCombinedDataTransformer).output?.serialize === 'function' &&
    typeof (value as TRPCCombinedDataTransformer).output?.deserialize === 'function'
  );
}

/** Whether `value` is a tRPC procedure builder (what every builder method returns). */
export function isProcedureBuilder(value: unknown): value is AnyProcedureBuilder {
  return (
    typeof value === 'object' &&
    value !== null &&
    '_def' in value &&
    typeof (value as { mutation?: unknown }).mutation === 'function'
  );
}

/**
 * `builder.input(parser)` with `step` as its input step instead of tRPC's
 * own: the key check and the user's parser in one tRPC step where the public
 * API (`.use()` then `.input()`) takes two. Buys 4.9 µs per call (8.2 µs
 * mean for a plain mutation through a caller, 13.1 µs with the extra step).
 * `createBuilder` and the `_def` it copies are internal; `getParseFn` turns
 * any validator tRPC accepts into one parse function.
 */
export function inputWithStep(
  builder: AnyProcedureBuilder,
  parser: Parser,
  makeStep: (parse: (input: unknown) => Promise<unknown> | unknown) => AnyMiddlewareFunction,
): AnyProcedureBuilder {
  const step = asInputStep(makeStep(getParseFn(parser)));
  const def = builder._def;
  return createBuilder({
    ...def,
    inputs: [...def.inputs, parser],
    middlewares: [...def.middlewares, step],
  }) as AnyProcedureBuilder;
}

/**
 * Marks a middleware as an input step (`_type`, undocumented), as tRPC marks
 * its own input parsers: the key check is one, wherever it runs.
 */
export function asInputStep(step: AnyMiddlewareFunction): AnyMiddlewareFunction {
  step._type = 'input';
  return step;
}

/**
 * Gives an idempotency error its final wire shape (`shape` made from tRPC's
 * default one) as an `.errors()` step would, from the resolver wrapper: no
 * `.errors()` middleware runs on every call, replays and successes included.
 * Buys 4.6 µs per call (8.2 µs mean, 12.8 µs with an `.errors()` step).
 * Leaves an error another formatter already shaped.
 */
export function setErrorShape(
  error: TRPCError,
  opts: { path: string; isDev: boolean },
  shape: (defaultShape: TRPCErrorShape) => TRPCErrorShape | undefined,
) {
  if (isFormattedErrorShape(error)) return;
  const formatted = shape(getDefaultErrorShape({ error, path: opts.path, isDev: opts.isDev }));
  if (formatted) setFormattedErrorShape(error, formatted);
}

/**
 * Every procedure of `router` by its dotted path, its lazy routers loaded
 * first. A router's `_def` (its `procedures` record and its `lazy` loaders)
 * is how tRPC itself walks a router; no public API lists its procedures.
 */
export async function routerProcedures(
  router: AnyTRPCRouter,
): Promise<Record<string, AnyTRPCProcedure>> {
  // Loading a lazy router may reveal lazy routers inside it.
  for (;;) {
    const lazy = Object.values(router._def.lazy);
    if (lazy.length === 0) break;
    await Promise.all(lazy.map((loader) => loader.load()));
  }
  return router._def.procedures as Record<string, AnyTRPCProcedure>;
}
