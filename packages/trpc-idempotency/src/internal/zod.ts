/**
 * Every read of zod's internals in this package: which schemas the
 * `idempotencyKey` field can join, told from a schema's definition (zod 4's
 * `_zod.def`, zod 3's `_def`, both undocumented). A schema this does not
 * recognise passes (`undefined`), so a zod change can only make the check
 * miss a mistake, never refuse a good schema. `test/keyedInput.test.ts` runs
 * it on zod 4 and on zod 3 (`zod/v3`), in both vitest projects.
 * @see ../server/keyedInput.ts
 */
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';

/**
 * A zod 3 strict object (`.strict()`), whose type says so. Zod 4's
 * `z.strictObject` has the same type as `z.object`, so it is caught at run
 * time instead ({@link unjoinableInput}).
 */
export type IsStrictWithoutKey<$Parser> = $Parser extends {
  _def: { unknownKeys: 'strict'; shape: () => infer $Shape };
}
  ? typeof IDEMPOTENCY_KEY_FIELD extends keyof $Shape
    ? false
    : true
  : false;

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
