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
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';

/** The type error `.input()` shows for a schema whose output is not an object. */
export type NotAnObjectInputError =
  TRPCTypeError<'idempotentProcedure: the input must be an object schema such as z.object({ … }); it carries `idempotencyKey` beside your fields'>;

/** The type error `.input()` shows for a strict object schema without the key. */
export type StrictInputError =
  TRPCTypeError<'idempotentProcedure: a strict object schema rejects the `idempotencyKey` field every request carries: use z.object({ … }), or declare `idempotencyKey: z.string()` in it'>;

/**
 * A zod 3 strict object (`.strict()`), whose type says so. Zod 4's
 * `z.strictObject` has the same type as `z.object`, so it is caught at run
 * time instead ({@link unjoinableInput}).
 */
type IsStrictWithoutKey<$Parser> = $Parser extends {
  _def: { unknownKeys: 'strict'; shape: () => infer $Shape };
}
  ? typeof IDEMPOTENCY_KEY_FIELD extends keyof $Shape
    ? false
    : true
  : false;

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

/** The zod 4 (`_zod.def`) and zod 3 (`_def`) fields this check reads. */
interface SchemaDef {
  type?: unknown;
  typeName?: unknown;
  shape?: unknown;
  catchall?: unknown;
  unknownKeys?: unknown;
  innerType?: unknown;
  in?: unknown;
  schema?: unknown;
  options?: unknown;
  left?: unknown;
  right?: unknown;
}

/** Zod 4 kinds whose values are never an object, so never carry the key. */
const ZOD_NOT_OBJECT = new Set([
  'string',
  'number',
  'int',
  'bigint',
  'boolean',
  'date',
  'symbol',
  'null',
  'undefined',
  'void',
  'never',
  'nan',
  'literal',
  'enum',
  'template_literal',
  'file',
  'array',
  'tuple',
  'set',
  'map',
]);

/** Zod 3 kinds whose values are never an object. */
const ZOD3_NOT_OBJECT = new Set([
  'ZodString',
  'ZodNumber',
  'ZodBigInt',
  'ZodBoolean',
  'ZodDate',
  'ZodSymbol',
  'ZodNull',
  'ZodUndefined',
  'ZodVoid',
  'ZodNever',
  'ZodNaN',
  'ZodLiteral',
  'ZodEnum',
  'ZodNativeEnum',
  'ZodArray',
  'ZodTuple',
  'ZodSet',
  'ZodMap',
]);

function defOf(schema: unknown): SchemaDef | undefined {
  if (typeof schema !== 'object' && typeof schema !== 'function') return undefined;
  if (schema === null) return undefined;
  const zod4 = (schema as { _zod?: { def?: unknown } })._zod?.def;
  if (typeof zod4 === 'object' && zod4 !== null) return zod4 as SchemaDef;
  const zod3 = (schema as { _def?: unknown })._def;
  if (typeof zod3 === 'object' && zod3 !== null && 'typeName' in zod3) return zod3 as SchemaDef;
  return undefined;
}

function hasKeyField(shape: unknown) {
  const fields = typeof shape === 'function' ? (shape as () => unknown)() : shape;
  return typeof fields === 'object' && fields !== null && IDEMPOTENCY_KEY_FIELD in fields;
}

/** Why the key cannot join an input, and what to use instead. */
export interface UnjoinableInput {
  problem: string;
  instead: string;
}

const STRICT: UnjoinableInput = {
  problem: `a strict object schema rejects the \`${IDEMPOTENCY_KEY_FIELD}\` field`,
  instead: `use z.object({ … }) (it strips unknown keys), or declare \`${IDEMPOTENCY_KEY_FIELD}: z.string()\` in the strict object`,
};

/**
 * Why the key cannot join the input `parser` accepts, or `undefined` when it
 * can or when the schema is not one this check knows (zod 4 and zod 3).
 * Wrappers (optional, default, pipe, …) are looked through; a union is
 * refused only when none of its options could accept the key.
 */
export function unjoinableInput(parser: unknown, depth = 0): UnjoinableInput | undefined {
  const def = defOf(parser);
  if (!def || depth > 20) return undefined;
  const kind = typeof def.type === 'string' ? def.type : def.typeName;
  if (kind === 'object' || kind === 'ZodObject') {
    if (hasKeyField(def.shape)) return undefined;
    const strict = def.unknownKeys === 'strict' || defOf(def.catchall)?.type === 'never';
    return strict ? STRICT : undefined;
  }
  if (typeof kind === 'string' && (ZOD_NOT_OBJECT.has(kind) || ZOD3_NOT_OBJECT.has(kind))) {
    const name = kind.replace(/^Zod/, '').toLowerCase();
    return {
      problem: `${/^[aeiou]/.test(name) ? 'an' : 'a'} ${name} schema cannot carry the \`${IDEMPOTENCY_KEY_FIELD}\` field`,
      instead: 'put your input in an object schema, e.g. z.object({ items: z.array(…) })',
    };
  }
  if (kind === 'union' || kind === 'ZodUnion' || kind === 'ZodDiscriminatedUnion') {
    const options = Array.isArray(def.options) ? def.options : [];
    const reasons = options.map((option) => unjoinableInput(option, depth + 1));
    return options.length > 0 && reasons.every(Boolean) ? reasons[0] : undefined;
  }
  if (kind === 'intersection' || kind === 'ZodIntersection') {
    return unjoinableInput(def.left, depth + 1) ?? unjoinableInput(def.right, depth + 1);
  }
  // optional, nullable, default, readonly, catch, branded, effects, pipe: the wrapped schema decides.
  const inner = def.innerType ?? def.in ?? def.schema;
  return inner === undefined ? undefined : unjoinableInput(inner, depth + 1);
}

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
