/**
 * Which input schemas the `idempotencyKey` field can join. Every request of
 * an idempotent procedure is an object carrying the key beside the user's
 * fields, and every input parser of the procedure sees it whole. A schema
 * that cannot accept that object would refuse every request with a generic
 * validation error, so it is refused where the procedure is built: by its
 * type where the type says enough, otherwise when `.input()` is called.
 * @see README.md#the-handler
 */
import type { inferParser, Parser, TRPCTypeError } from '../internal/trpc';
import { type IsStrictWithoutKey, unjoinableInput } from '../internal/zod';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';

/** The type error `.input()` shows for a schema whose output is not an object. */
export type NotAnObjectInputError =
  TRPCTypeError<'idempotentProcedure: the input must be an object schema such as z.object({ … }); it carries `idempotencyKey` beside your fields'>;

/** The type error `.input()` shows for a strict object schema without the key. */
export type StrictInputError =
  TRPCTypeError<'idempotentProcedure: a strict object schema rejects the `idempotencyKey` field every request carries: use z.object({ … }), or declare `idempotencyKey: z.string()` in it'>;

/** The type error `.input()` shows for an optional object schema: the key makes the input required. */
export type OptionalInputError =
  TRPCTypeError<'idempotentProcedure: the input carries a required `idempotencyKey`, so it cannot be optional: drop .optional() from the schema'>;

/**
 * `$Parser` if the key can join its input (after the chain's input so far,
 * `TInputOut`), else a type error saying what to use instead.
 */
export type KeyJoinableParser<
  $Parser extends Parser,
  TInputOut,
> = inferParser<$Parser>['out'] extends Record<string, unknown> | undefined
  ? IsStrictWithoutKey<$Parser> extends true
    ? StrictInputError
    : undefined extends inferParser<$Parser>['out']
      ? undefined extends TInputOut
        ? $Parser
        : OptionalInputError
      : $Parser
  : NotAnObjectInputError;

/**
 * Throws at `.input()` time when the key cannot join `parser`'s input,
 * naming what to use instead.
 */
export function assertKeyJoinable(parser: unknown) {
  const unjoinable = unjoinableInput(parser);
  if (unjoinable) {
    throw new TypeError(
      `idempotentProcedure: .input() got a schema that \`${IDEMPOTENCY_KEY_FIELD}\` cannot join (${unjoinable.problem}, and every request of an idempotent procedure is an object carrying it): ${unjoinable.instead}`,
    );
  }
}
