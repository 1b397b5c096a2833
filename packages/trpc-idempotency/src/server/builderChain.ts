/**
 * How the builder rides on tRPC's procedure builder: a proxy that keeps
 * every derived builder idempotent, places the key check, and wraps
 * `.mutation()`'s resolver in the idempotency step.
 * @see README.md#the-handler
 */
import {
  type AnyMiddlewareFunction,
  type AnyProcedureBuilder,
  isProcedureBuilder,
  type Parser,
} from '../internal/trpc';
import { formatIdempotencyError } from './errors';
import { markIdempotent } from './idempotentPaths';
import { assertKeyJoinable } from './keyedInput';
import type { IdempotencyKeyOutput } from './keyFormat';

export interface ResolverOpts {
  ctx: Record<string, unknown>;
  input: IdempotencyKeyOutput;
  path: string;
  /** The call's index in its HTTP batch (0 when not batched). */
  batchIndex?: number;
  getRawInput: () => Promise<unknown>;
}

/**
 * Where the idempotency steps stand in a builder chain. Neither is a
 * middleware of its own unless it has to be: every tRPC step costs a few µs
 * on every call, replays included.
 */
export interface Chain {
  /** The key is checked by a step already in the chain (else the resolver wrapper checks it). */
  keyChecked: boolean;
  /**
   * The user added an `.errors()` formatter: it must see idempotency errors
   * before ours, as when ours was the chain's first `.errors()`, so ours runs
   * as a middleware just before theirs instead of in the resolver wrapper.
   */
  formatterInChain: boolean;
}

export interface ChainSteps {
  wrapResolver: (
    resolver: (opts: ResolverOpts) => unknown,
    chain: Chain,
  ) => (opts: ResolverOpts) => unknown;
  withKeyAndInput: (builder: AnyProcedureBuilder, parser: Parser) => AnyProcedureBuilder;
  keyMiddleware: AnyMiddlewareFunction;
}

/**
 * Every builder derived from ours (`.input`, `.use`, `.meta`, …) stays ours,
 * and `.mutation` wraps the resolver in the idempotency step. Queries and
 * subscriptions are not idempotent operations and are refused.
 *
 * The key is checked by the chain's first step that needs it: fused into the
 * first `.input()`, or as a step of its own before the first `.use()`, or
 * else in the resolver wrapper; always before the user's own input parsers
 * and the middlewares added on this builder, as a separate input step would be.
 */
export function wrapBuilder(
  builder: AnyProcedureBuilder,
  chain: Chain,
  steps: ChainSteps,
): AnyProcedureBuilder {
  const wrap = (next: unknown, nextChain: Chain = chain) =>
    isProcedureBuilder(next) ? wrapBuilder(next, nextChain, steps) : next;
  const keyed: Chain = { ...chain, keyChecked: true };
  return new Proxy(builder, {
    get(target, prop, receiver) {
      switch (prop) {
        case 'mutation':
          return (resolver: (opts: ResolverOpts) => unknown) =>
            markIdempotent(target.mutation(steps.wrapResolver(resolver, chain) as never));
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
              ? wrap(target.input(parser))
              : wrap(steps.withKeyAndInput(target, parser), keyed);
          };
        case 'use':
        case 'concat':
        case 'unstable_concat':
          return (...args: unknown[]) => {
            const from = chain.keyChecked ? target : target.use(steps.keyMiddleware);
            return wrap(
              Reflect.apply(from[prop] as (...a: unknown[]) => unknown, from, args),
              keyed,
            );
          };
        case 'errors':
          return (formatter: Parameters<AnyProcedureBuilder['errors']>[0]) => {
            const from = chain.formatterInChain ? target : target.errors(formatIdempotencyError);
            return wrap(from.errors(formatter), { ...chain, formatterInChain: true });
          };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => wrap(value.apply(target, args));
    },
  });
}
