import type {
  AnyTRPCProcedure as AnyProcedure,
  AnyTRPCRouter as AnyRouter,
  TRPCRouterRecord as RouterRecord,
} from '@trpc/server';

/**
 * The brand on the input type of every procedure `idempotentProcedure`
 * builds: an optional, type-only property (nothing sends or reads it at
 * runtime), so call sites never see it required. A field named
 * `idempotencyKey` alone proves nothing (a plain mutation may have one); this
 * brand does. A string key, not a `unique symbol`: declaration files of code
 * that exports a typed client must be able to name it.
 * @see README.md#which-procedures-the-link-touches
 */
export type IdempotentInputBrand = '~idempotent';

/**
 * The input the key parser accepts at the call site: the key is optional (a
 * link may add it), and the brand marks the procedure as idempotent.
 */
// Type aliases, not interfaces: tRPC merges object inputs only when they are `Record`-compatible.
export type IdempotencyKeyInput = {
  idempotencyKey?: string;
  readonly '~idempotent'?: true;
};

/** The input the resolver sees: the key is always there. */
export type IdempotencyKeyOutput = {
  idempotencyKey: string;
};

/** True when `TInput` is the input of a procedure built by `idempotentProcedure` (an optional one too). */
type isIdempotentInput<TInput> = [Exclude<TInput, undefined>] extends [infer $Input]
  ? [$Input] extends [never]
    ? false
    : [$Input] extends [object]
      ? IdempotentInputBrand extends keyof $Input
        ? true
        : false
      : false
  : false;

type idempotentPathsOf<TRecord extends RouterRecord, TPrefix extends string> = {
  [TKey in keyof TRecord & string]: TRecord[TKey] extends infer $Value
    ? $Value extends AnyProcedure
      ? $Value['_def']['type'] extends 'mutation'
        ? isIdempotentInput<$Value['_def']['$types']['input']> extends true
          ? `${TPrefix}${TKey}`
          : never
        : never
      : $Value extends RouterRecord
        ? idempotentPathsOf<$Value, `${TPrefix}${TKey}.`>
        : never
    : never;
}[keyof TRecord & string];

/**
 * The dotted paths of a router's idempotent mutations (those built by
 * `idempotentProcedure`), e.g. `'accounts.open' | 'transfers.create'`.
 * @see README.md#which-procedures-the-link-touches
 */
export type inferIdempotentPaths<TRouter extends AnyRouter> =
  // An untyped router (`AnyTRPCRouter`): any path, as the rest of its client is untyped too.
  0 extends 1 & TRouter['_def']['record']
    ? string
    : idempotentPathsOf<TRouter['_def']['record'], ''>;

/**
 * What a client states it knows about a router: every idempotent mutation's
 * path, mapped to `true`. A path missing, or one that is not an idempotent
 * mutation of `TRouter`, is a type error, so the client cannot drift from the
 * server silently.
 * ```ts
 * const procedures = { 'accounts.open': true, 'transfers.create': true } satisfies IdempotentProcedures<AppRouter>;
 * ```
 * @see README.md#which-procedures-the-link-touches
 */
export type IdempotentProcedures<TRouter extends AnyRouter> = [
  inferIdempotentPaths<TRouter>,
] extends [never]
  ? // `{}` would take any object: a router without idempotent mutations takes an empty set only.
    Readonly<Record<string, never>>
  : { readonly [TPath in inferIdempotentPaths<TRouter>]: true };
