/**
 * The type of the builder `idempotentProcedure()` returns: tRPC's procedure
 * builder, method for method, except that every method returns this builder
 * again, `.query()` and `.subscription()` are type errors (an idempotent
 * operation is a mutation), `.input()` refuses schemas the key cannot join,
 * and only the resolver sees `ctx.idempotency` (middlewares run before the
 * idempotency step, where it does not exist yet).
 * @see README.md#the-handler
 */
import type {
  CallerOverride,
  inferParser,
  MaybePromise,
  MiddlewareBuilder,
  MiddlewareFunction,
  MutationProcedure,
  Overwrite,
  Parser,
  ProcedureBuilder,
  ProcedureErrorFormatter,
  ProcedureResolverOptions,
  Simplify,
  TRPCErrorShape,
  UnsetMarker,
} from '../internal/trpc';
import type { KeyJoinableParser } from './keyedInput';

/** As tRPC's procedure builder merges two inputs. */
export type IntersectIfDefined<TType, TWith> = TType extends UnsetMarker
  ? TWith
  : TWith extends UnsetMarker
    ? TType
    : Simplify<TType & TWith>;

type DefaultValue<TValue, TFallback> = TValue extends UnsetMarker ? TFallback : TValue;

type FoldErrorShape<TErrorShape, $Shape> = Extract<$Shape, TRPCErrorShape> | TErrorShape;

/** What `.query()` and `.subscription()` take instead of a resolver: nothing fits. */
export type MutationsOnly =
  'idempotentProcedure builds mutations only: use your base procedure for queries and subscriptions';

/**
 * The builder {@link idempotentProcedure} returns: your own builder with the
 * key in its input and `ctx.idempotency` (`THandle`) in the resolver's context.
 * @see README.md#the-handler
 */
export interface IdempotentProcedureBuilder<
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
> {
  /**
   * Adds a validator for the input: an object schema (`z.object`), since the
   * input also carries `idempotencyKey`. Chain several to merge object inputs.
   * @see https://trpc.io/docs/server/validators#input-validators
   */
  input<$Parser extends Parser>(
    schema: KeyJoinableParser<$Parser, TInputOut>,
  ): IdempotentProcedureBuilder<
    TContext,
    TMeta,
    TContextOverrides,
    IntersectIfDefined<TInputIn, inferParser<$Parser>['in']>,
    IntersectIfDefined<TInputOut, inferParser<$Parser>['out']>,
    TOutputIn,
    TOutputOut,
    TCaller,
    TErrorShape,
    THandle
  >;
  /**
   * Adds a validator for the output, which checks what the resolver returns.
   * @see https://trpc.io/docs/server/validators#output-validators
   */
  output<$Parser extends Parser>(
    schema: $Parser,
  ): IdempotentProcedureBuilder<
    TContext,
    TMeta,
    TContextOverrides,
    TInputIn,
    TInputOut,
    IntersectIfDefined<TOutputIn, inferParser<$Parser>['in']>,
    IntersectIfDefined<TOutputOut, inferParser<$Parser>['out']>,
    TCaller,
    TErrorShape,
    THandle
  >;
  /**
   * Sets the procedure's metadata, shallow-merged with any set before.
   * @see https://trpc.io/docs/server/metadata
   */
  meta(
    meta: TMeta,
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
    THandle
  >;
  /**
   * Adds an error formatter for this procedure; it sees idempotency errors
   * before the builder's own formatting.
   * @see README.md#errors
   */
  // biome-ignore lint/suspicious/noConfusingVoidType: as tRPC's own `.errors()`, a formatter may return nothing
  errors<$Shape extends TRPCErrorShape | undefined | void>(
    formatter: ProcedureErrorFormatter<TContext, TContextOverrides, $Shape>,
  ): IdempotentProcedureBuilder<
    TContext,
    TMeta,
    TContextOverrides,
    TInputIn,
    TInputOut,
    TOutputIn,
    TOutputOut,
    TCaller,
    FoldErrorShape<TErrorShape, $Shape>,
    THandle
  >;
  /**
   * Adds a middleware. It runs before the idempotency step (see README.md#middleware-order),
   * so its context has no `idempotency` yet; its input already carries the key.
   * @see https://trpc.io/docs/server/middlewares
   */
  use<$ContextOverridesOut>(
    fn:
      | MiddlewareBuilder<
          Overwrite<TContext, TContextOverrides>,
          TMeta,
          $ContextOverridesOut,
          TInputOut
        >
      | MiddlewareFunction<TContext, TMeta, TContextOverrides, $ContextOverridesOut, TInputOut>,
  ): IdempotentProcedureBuilder<
    TContext,
    TMeta,
    Overwrite<TContextOverrides, $ContextOverridesOut>,
    TInputIn,
    TInputOut,
    TOutputIn,
    TOutputOut,
    TCaller,
    TErrorShape,
    THandle
  >;
  /**
   * Adds another procedure builder's inputs, middlewares and context.
   * @see https://trpc.io/docs/server/middlewares#concat
   */
  concat<$Context, $Meta, $ContextOverrides, $InputIn, $InputOut, $OutputIn, $OutputOut, $Shape>(
    builder: Overwrite<TContext, TContextOverrides> extends $Context
      ? TMeta extends $Meta
        ? ProcedureBuilder<
            $Context,
            $Meta,
            $ContextOverrides,
            $InputIn,
            $InputOut,
            $OutputIn,
            $OutputOut,
            TCaller,
            $Shape
          >
        : 'Meta mismatch'
      : 'Context mismatch',
  ): IdempotentProcedureBuilder<
    TContext,
    TMeta,
    Overwrite<TContextOverrides, $ContextOverrides>,
    IntersectIfDefined<TInputIn, $InputIn>,
    IntersectIfDefined<TInputOut, $InputOut>,
    IntersectIfDefined<TOutputIn, $OutputIn>,
    IntersectIfDefined<TOutputOut, $OutputOut>,
    TCaller,
    FoldErrorShape<TErrorShape, $Shape>,
    THandle
  >;
  /**
   * Ends the builder with an idempotent mutation: the resolver runs at most
   * once per `(scope, key)`, and every retry gets its stored outcome.
   * @see README.md#the-handler
   */
  mutation<$Output>(
    resolver: (
      opts: ProcedureResolverOptions<
        TContext,
        TMeta,
        Overwrite<TContextOverrides, { idempotency: THandle }>,
        TInputOut
      >,
    ) => MaybePromise<DefaultValue<TOutputIn, $Output>>,
  ): TCaller extends true
    ? (input: DefaultValue<TInputIn, void>) => Promise<DefaultValue<TOutputOut, $Output>>
    : MutationProcedure<{
        input: DefaultValue<TInputIn, void>;
        output: DefaultValue<TOutputOut, $Output>;
        meta: TMeta;
        errorShape: TErrorShape;
      }>;
  /** Not available: {@link MutationsOnly}. Throws if called anyway. */
  query(resolver: MutationsOnly): never;
  /** Not available: {@link MutationsOnly}. Throws if called anyway. */
  subscription(resolver: MutationsOnly): never;
  /**
   * Replaces how the procedure is called (e.g. a server action). Experimental in tRPC.
   * @see https://trpc.io/docs/client/nextjs/server-actions
   */
  experimental_caller(
    caller: CallerOverride<TContext>,
  ): IdempotentProcedureBuilder<
    TContext,
    TMeta,
    TContextOverrides,
    TInputIn,
    TInputOut,
    TOutputIn,
    TOutputOut,
    true,
    TErrorShape,
    THandle
  >;
  /** @internal tRPC's definition of the underlying builder. */
  _def: ProcedureBuilder<
    TContext,
    TMeta,
    TContextOverrides,
    TInputIn,
    TInputOut,
    TOutputIn,
    TOutputOut,
    TCaller,
    TErrorShape
  >['_def'];
}
