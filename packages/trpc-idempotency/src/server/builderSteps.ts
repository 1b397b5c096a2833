/**
 * Every step an idempotent builder adds to a procedure, in the order a call
 * meets them, and how they ride on tRPC's procedure builder: a proxy that
 * keeps every derived builder idempotent, places the key check, and wraps
 * `.mutation()`'s resolver in the idempotency step.
 *
 * 1. The key check: the chain's first step that needs the key checks it,
 *    always before the user's own input parsers and the middlewares added on
 *    this builder (as a separate input step would): fused into the first
 *    `.input()`, else a step of its own before the first `.use()`, else the
 *    resolver wrapper. Every place calls the one `keyOf`.
 * 2. The resolver wrapper: the scope, the fingerprint of the input as it
 *    arrived, then the engine (`engine.ts`), then the replay marker for the
 *    response headers (the horizon header is noted as soon as a call
 *    reaches the key check or this wrapper).
 * 3. Error shaping: idempotency errors get `data.reason` from the one
 *    `idempotencyErrorShape` (`errors.ts`), applied in the resolver wrapper
 *    or, when the user added an `.errors()`, as an `.errors()` step before it.
 *
 * Neither the key check nor the shaping is a tRPC step of its own unless it
 * has to be: every step costs a few µs on every call, replays included.
 * @see README.md#the-handler
 */
import { TRPCError } from '@trpc/server';
import {
  type AnyProcedureBuilder,
  asInputStep,
  inputWithStep,
  isProcedureBuilder,
  type Parser,
  type ProcedureConfig,
  setErrorShape,
} from '../internal/trpc';
import { type Engine, idempotentRequest, isReplayedError } from './engine';
import { idempotencyErrorShape, inputNotFingerprintableError, scopeInvalidError } from './errors';
import type { IdempotencyEvent, IdempotencyEventHandler } from './events';
import { type FingerprintOptions, fingerprintInput } from './fingerprint';
import type { IdempotencyHandle } from './handle';
import { markIdempotent } from './idempotentPaths';
import { assertKeyJoinable } from './keyedInput';
import { IdempotencyKeyInvalidError, type IdempotencyKeyOutput } from './keyFormat';
import { recordScope } from './recordScope';
import { headerKeyOf, recordHorizon, recordReplay } from './responseHeaders';

/** The reasons of a request refused before it reaches the engine. */
type RefusalReason = Extract<IdempotencyEvent, { type: 'failed' }>['reason'];

/** What the builder's steps need, resolved once by `idempotentProcedure`. */
export interface IdempotentBuilderOptions {
  engine: Engine;
  /** The key of a raw input; throws {@link IdempotencyKeyInvalidError} (or a `TypeError`) if it has none valid. */
  /** The key of a raw input, or of the `Idempotency-Key` header when the input has none. */
  parseKey: (rawInput: unknown, headerKey: string | undefined) => { idempotencyKey: string };
  /** The `scope` option. */
  scope: (opts: { ctx: never; path: string }) => string;
  /** How inputs are fingerprinted: with the transformer's `serialize` of the wire. */
  fingerprint: FingerprintOptions;
  /** The `onEvent` option: a request refused before the engine gets its one event here. */
  onEvent: IdempotencyEventHandler | undefined;
  config: Pick<ProcedureConfig, 'isDev' | 'errorFormatter'>;
  /** The builder's horizon: sent to clients in a header and in idempotency errors (SPEC 7.10). */
  horizonMs: number;
}

/** What tRPC passes a resolver, as far as the wrapper reads it. */
interface ResolverOpts {
  ctx: Record<string, unknown>;
  input: IdempotencyKeyOutput;
  path: string;
  /** The call's index in its HTTP batch (0 when not batched). */
  batchIndex?: number;
  getRawInput: () => Promise<unknown>;
}

/** Where the idempotency steps stand in a builder chain. */
interface Chain {
  /** The key is checked by a step already in the chain (else the resolver wrapper checks it). */
  keyChecked: boolean;
  /**
   * The user added an `.errors()` formatter: it must see idempotency errors
   * before ours, as when ours was the chain's first `.errors()`, so ours runs
   * as an `.errors()` step just before theirs instead of in the resolver wrapper.
   */
  formatterInChain: boolean;
}

/** `procedure` as an idempotent builder: see the file's comment. */
export function idempotentBuilder(
  procedure: AnyProcedureBuilder,
  steps: IdempotentBuilderOptions,
): AnyProcedureBuilder {
  /** Gives `error` its wire shape with `data.reason` if it is an idempotency error. */
  const shapeError = (error: TRPCError, at: { path: string; ctx: unknown; input: unknown }) =>
    setErrorShape(error, { path: at.path, isDev: steps.config.isDev }, (shape) =>
      idempotencyErrorShape({
        error,
        shape,
        horizonMs: steps.horizonMs,
        format: steps.config.errorFormatter
          ? (defaultShape) =>
              steps.config.errorFormatter?.({ error, type: 'mutation', ...at, shape: defaultShape })
          : undefined,
      }),
    );

  /**
   * The key of a raw input, or the `400` of README.md#errors: the same
   * `BAD_REQUEST` tRPC makes of a failing input parser, its shape already
   * formatted (no later formatter can take it over, as when a parser before
   * every `.errors()` threw it).
   */
  const keyOf = (rawInput: unknown, path: string, ctx: unknown) => {
    // The call reached the idempotency step: its response tells the horizon, whatever it answers.
    recordHorizon(ctx, steps.horizonMs);
    try {
      return steps.parseKey(rawInput, headerKeyOf(ctx)).idempotencyKey;
    } catch (cause) {
      const error = new TRPCError({ code: 'BAD_REQUEST', cause });
      if (cause instanceof IdempotencyKeyInvalidError)
        shapeError(error, { path, ctx, input: rawInput });
      throw error;
    }
  };

  /** The key check as an input step of its own: for a chain whose first step is not `.input()`. */
  const keyStep = asInputStep(async (mw) => {
    const idempotencyKey = keyOf(await mw.getRawInput(), mw.path, mw.ctx);
    return mw.next({ input: withKey(mw.input, idempotencyKey) });
  });

  /**
   * The key check fused into the first `.input()` of the chain: one step
   * where there would be two, same order (the key first, so a request with a
   * bad key and bad fields gets the key's `400`), same errors, same merged input.
   */
  const inputWithKey = (builder: AnyProcedureBuilder, parser: Parser) =>
    inputWithStep(builder, parser, (parse) => async (mw) => {
      const rawInput = await mw.getRawInput();
      const idempotencyKey = keyOf(rawInput, mw.path, mw.ctx);
      let parsed: unknown;
      try {
        parsed = await parse(rawInput);
      } catch (cause) {
        throw new TRPCError({ code: 'BAD_REQUEST', cause });
      }
      if (!isObject(parsed)) return mw.next({ input: parsed });
      // As tRPC merges two input parsers' outputs: the key's, then this parser's.
      const input = isObject(mw.input)
        ? // shape: only where a middleware before the first .input() passed an input
          { ...mw.input, idempotencyKey, ...parsed }
        : { idempotencyKey, ...parsed };
      return mw.next({ input });
    });

  /** The idempotency step: the resolver, run through the engine. */
  const wrapResolver =
    (resolver: (resolverOpts: ResolverOpts) => unknown, chain: Chain) =>
    async (resolverOpts: ResolverOpts) => {
      const batchIndex = resolverOpts.batchIndex ?? 0;
      recordHorizon(resolverOpts.ctx, steps.horizonMs);
      try {
        let { input } = resolverOpts;
        if (!chain.keyChecked) {
          input = withKey(
            input,
            keyOf(await resolverOpts.getRawInput(), resolverOpts.path, resolverOpts.ctx),
          );
        }
        const arrivedAt = performance.now();
        const { path } = resolverOpts;
        let scope: unknown;
        try {
          scope = steps.scope({ ctx: resolverOpts.ctx as never, path });
        } catch (error) {
          refused(steps, { path, arrivedAt, scope: '', reason: 'IDEMPOTENCY_SCOPE_INVALID' });
          throw error;
        }
        if (typeof scope !== 'string' || scope === '') {
          refused(steps, { path, arrivedAt, scope: '', reason: 'IDEMPOTENCY_SCOPE_INVALID' });
          throw scopeInvalidError({ path, scope });
        }
        let fingerprint: string;
        try {
          fingerprint = fingerprintInput(await resolverOpts.getRawInput(), steps.fingerprint);
        } catch (cause) {
          const reason = 'IDEMPOTENCY_INPUT_NOT_FINGERPRINTABLE';
          refused(steps, { path, arrivedAt, scope: recordScope(scope), reason });
          throw inputNotFingerprintableError({ cause });
        }
        const request = idempotentRequest({
          scope,
          key: input.idempotencyKey,
          path,
          fingerprint,
          arrivedAt,
        });
        const { value, replayed } = await steps.engine.execute(
          request,
          (idempotency: IdempotencyHandle) =>
            Promise.resolve(
              // shape: overrides tRPC's own `input` and `ctx` of the resolver's options
              resolver({ ...resolverOpts, input, ctx: withHandle(resolverOpts.ctx, idempotency) }),
            ),
        );
        recordReplay(resolverOpts.ctx, batchIndex, replayed);
        return value;
      } catch (error) {
        if (isReplayedError(error)) recordReplay(resolverOpts.ctx, batchIndex, true);
        // Without a `.errors()` of the user's in the chain, nothing formats between
        // here and the root: give idempotency errors their `data.reason` now.
        if (!chain.formatterInChain && error instanceof TRPCError) {
          shapeError(error, {
            path: resolverOpts.path,
            ctx: resolverOpts.ctx,
            input: resolverOpts.input,
          });
        }
        throw error;
      }
    };

  /**
   * Every builder derived from ours (`.input`, `.use`, `.meta`, …) stays
   * ours, and `.mutation` wraps the resolver in the idempotency step.
   * Queries and subscriptions are not idempotent operations and are refused.
   */
  const wrap = (builder: AnyProcedureBuilder, chain: Chain): AnyProcedureBuilder => {
    const derived = (next: unknown, nextChain: Chain = chain) =>
      isProcedureBuilder(next) ? wrap(next, nextChain) : next;
    // shape: once per builder, when the procedure is defined
    const keyed: Chain = { ...chain, keyChecked: true };
    return new Proxy(builder, {
      get(target, prop, receiver) {
        switch (prop) {
          case 'mutation':
            return (resolver: (opts: ResolverOpts) => unknown) =>
              markIdempotent(target.mutation(wrapResolver(resolver, chain) as never));
          case 'query':
          case 'subscription':
            return () => {
              throw new TypeError(
                `idempotentProcedure builds mutations only: .${prop}() has no effect to deduplicate`,
              );
            };
          case 'input':
            return (parser: Parser) => {
              assertKeyJoinable(parser);
              return chain.keyChecked
                ? derived(target.input(parser))
                : derived(inputWithKey(target, parser), keyed);
            };
          case 'use':
          case 'concat':
          case 'unstable_concat':
            return (...args: unknown[]) => {
              const from = chain.keyChecked ? target : target.use(keyStep);
              return derived(
                Reflect.apply(from[prop] as (...a: unknown[]) => unknown, from, args),
                keyed,
              );
            };
          case 'errors':
            return (formatter: Parameters<AnyProcedureBuilder['errors']>[0]) => {
              const from = chain.formatterInChain ? target : target.errors(idempotencyErrorShape);
              // shape: once per builder, when the procedure is defined
              return derived(from.errors(formatter), { ...chain, formatterInChain: true });
            };
        }
        const value: unknown = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => derived(value.apply(target, args));
      },
    });
  };

  return wrap(procedure, { keyChecked: false, formatterInChain: false });
}

/** A copy of the call's context with `ctx.idempotency` (the handle), over any of the app's own. */
function withHandle(ctx: Record<string, unknown>, idempotency: IdempotencyHandle) {
  // The key declared before the spread and set after it: a key new to the object,
  // added after a spread, would cost a new hidden class on every call (recordRow.ts).
  const copy: Record<string, unknown> = { idempotency: undefined, ...ctx };
  copy['idempotency'] = idempotency;
  return copy;
}

/** A request refused before the engine still ends in its one event (README.md#events). */
function refused(
  steps: Pick<IdempotentBuilderOptions, 'onEvent'>,
  at: { path: string; arrivedAt: number; scope: string; reason: RefusalReason },
) {
  steps.onEvent?.({
    type: 'failed',
    reason: at.reason,
    scope: at.scope,
    path: at.path,
    durationMs: performance.now() - at.arrivedAt,
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && !Array.isArray(value) && typeof value === 'object';
}

/** `input` with the key merged in, as tRPC merges the outputs of two input parsers. */
function withKey(input: unknown, idempotencyKey: string): IdempotencyKeyOutput {
  if (!isObject(input)) return { idempotencyKey };
  // The key declared first and set after the spread, so it wins over the input's own:
  // a key added after a leading spread costs a hidden class per call (test/hotPathShapes.test.ts).
  const merged: IdempotencyKeyOutput = { idempotencyKey, ...input };
  merged.idempotencyKey = idempotencyKey;
  return merged;
}
