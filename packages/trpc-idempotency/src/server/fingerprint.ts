import { hash } from 'node:crypto';
import { types } from 'node:util';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';

// Deeper than this is never a real mutation input; refuse rather than overflow the stack.
const MAX_DEPTH = 256;
// A transformer that keeps shared references (superjson) can deliver a small payload whose
// tree is huge ([x, x] nested 64 times is 2^64 leaves): refuse instead of walking it.
const MAX_VALUES = 1_000_000;

/**
 * The canonical, type-preserving encoding of a value, as the fingerprint
 * hashes it: a tagged, length-prefixed grammar, so the encoding is prefix-free
 * and two values encode alike only when the transformer could not tell them
 * apart either. Object keys are sorted recursively, a `Map`'s entries and a
 * `Set`'s elements by their encodings, so neither key nor insertion order
 * matters.
 *
 * ```text
 * value  = "n" (null) | "u" (undefined) | "t" | "f"
 *        | "d" text (number: -0, NaN, ±Infinity included) | "b" text (BigInt)
 *        | "s" text (string) | "y" text (symbol, by description)
 *        | "a" count (value | "h" (hole))*                  array
 *        | "o" count (text value)*                          plain object, keys sorted
 *        | "c" text (class name) instance                   any other object
 * instance = "M" count (value value)* | "S" count value*    Map, Set (sorted)
 *        | "D" value | "R" text text | "B" text text        Date, RegExp, bytes (typed array…)
 *        | "E" text text count (text value)*                Error: name, message, own fields
 *        | "U" text | "K" value                            URL, boxed primitive
 *        | "T" value | "O" count (text value)*             other class: as the transformer
 *                                                          carries it, or its own fields
 * text   = length ":" UTF-16 code units      count = number ":"
 * ```
 *
 * An instance of any other class (yours) is encoded as the transformer
 * carries it: when `serialize` (the transformer's) gives it a form of its own
 * — superjson's `registerCustom` or `registerClass` — that form (`T`), so
 * state the transformer carries from `#private` fields counts; otherwise its
 * own enumerable fields (`O`), what a transformer that treats it as plain
 * data carries. An instance with neither is refused: its state, if any, is
 * out of reach (`#private`), and two of them must not share a fingerprint
 * silently.
 *
 * Refused with a `TypeError` or `RangeError` naming the problem: a cycle
 * (superjson can deserialize one), nesting deeper than 256 levels, more than
 * 1 000 000 values, a function, objects without a value of their own
 * (`WeakMap`, `Promise`…) and class instances the transformer carries
 * nothing of. Keys are read with `Object.keys` and written into a fresh
 * string, never assigned onto an object, so `__proto__` or `constructor` in
 * the input are keys like any other.
 * @see README.md#record-lifecycle
 */
export function canonicalEncoding(value: unknown, opts: FingerprintOptions = {}): string {
  return encode(value, 0, walkState(opts));
}

function walkState(opts: FingerprintOptions): WalkState {
  return { ancestors: new Set(), values: 0, serialize: opts.serialize, handedOn: undefined };
}

/**
 * How inputs are fingerprinted.
 * @see README.md#record-lifecycle
 */
export interface FingerprintOptions {
  /**
   * The transformer's `serialize` for inputs (what a client sends): an
   * instance of a class of yours is fingerprinted by the form it gives it.
   */
  serialize?: ((value: unknown) => unknown) | undefined;
}

interface WalkState {
  /** The objects on the path from the root: meeting one again is a cycle. */
  ancestors: Set<object>;
  values: number;
  serialize: ((value: unknown) => unknown) | undefined;
  /**
   * Instances whose serialized form is being encoded (superjson keeps an
   * unregistered one as it is); made when the first one is met.
   */
  handedOn: Set<object> | undefined;
}

const text = (value: string) => `${value.length}:${value}`;

function numberText(value: number) {
  // String() is the shortest round-trip form: one text per double, except that -0 prints as 0.
  return Object.is(value, -0) ? '-0' : String(value);
}

function encode(value: unknown, depth: number, state: WalkState): string {
  if (++state.values > MAX_VALUES) {
    throw new RangeError(`input holds more than ${MAX_VALUES} values: too large to fingerprint`);
  }
  if (depth > MAX_DEPTH) {
    throw new RangeError(`input is nested deeper than ${MAX_DEPTH} levels`);
  }
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return value ? 't' : 'f';
    case 'number':
      return `d${text(numberText(value))}`;
    case 'bigint':
      return `b${text(value.toString())}`;
    case 'string':
      return `s${text(value)}`;
    case 'symbol':
      return `y${text(value.description ?? '')}`;
    case 'function':
      throw new TypeError('input holds a function: it cannot be fingerprinted');
  }
  if (value === null) return 'n';
  const object = value as object;
  if (state.ancestors.has(object)) {
    if (state.handedOn?.has(object)) throw new HandedOn();
    throw new TypeError(
      'input holds a cycle (an object inside itself): it cannot be fingerprinted',
    );
  }
  state.ancestors.add(object);
  try {
    return encodeObject(object, depth + 1, state);
  } finally {
    state.ancestors.delete(object);
  }
}

function encodeObject(object: object, depth: number, state: WalkState): string {
  if (Array.isArray(object)) {
    let out = `a${object.length}:`;
    for (let index = 0; index < object.length; index++) {
      out += index in object ? encode(object[index], depth, state) : 'h';
    }
    return out;
  }
  const prototype = Object.getPrototypeOf(object);
  if (prototype === Object.prototype || prototype === null) {
    return `o${ownFields(object, Object.keys(object), depth, state)}`;
  }
  const name = className(prototype);
  return `c${text(name)}${encodeInstance(object, name, depth, state)}`;
}

/** `count:` then each of `keys` (own enumerable string keys), sorted, with its value. */
function ownFields(object: object, keys: string[], depth: number, state: WalkState): string {
  const record = object as Record<string, unknown>;
  keys.sort();
  let out = `${keys.length}:`;
  for (const key of keys) out += text(key) + encode(record[key], depth, state);
  return out;
}

/** What an object of a class holds, by the kind of value it is (its internal slots). */
function encodeInstance(object: object, name: string, depth: number, state: WalkState): string {
  if (types.isMap(object)) {
    const entries: string[] = [];
    for (const [key, item] of object) {
      entries.push(encode(key, depth, state) + encode(item, depth, state));
    }
    return `M${entries.length}:${entries.sort().join('')}`;
  }
  if (types.isSet(object)) {
    const items: string[] = [];
    for (const item of object) items.push(encode(item, depth, state));
    return `S${items.length}:${items.sort().join('')}`;
  }
  if (types.isDate(object)) return `D${encode(object.getTime(), depth, state)}`;
  if (types.isRegExp(object)) return `R${text(object.source)}${text(object.flags)}`;
  if (types.isArrayBufferView(object)) {
    const bytes = Buffer.from(object.buffer, object.byteOffset, object.byteLength);
    return `B${text(typeName(object))}${text(bytes.toString('hex'))}`;
  }
  if (types.isAnyArrayBuffer(object)) {
    return `B${text(typeName(object))}${text(Buffer.from(object).toString('hex'))}`;
  }
  if (types.isNativeError(object) || object instanceof Error) {
    const error = object as Error;
    return `E${text(String(error.name))}${text(String(error.message))}${ownFields(error, Object.keys(error), depth, state)}`;
  }
  if (object instanceof URL) return `U${text(object.href)}`;
  if (types.isBoxedPrimitive(object)) return `K${encode(object.valueOf(), depth, state)}`;
  if (
    types.isWeakMap(object) ||
    types.isWeakSet(object) ||
    types.isPromise(object) ||
    object instanceof WeakRef
  ) {
    throw new TypeError(`input holds a ${typeName(object)}, which has no value to fingerprint`);
  }
  return encodeClassInstance(object, name, depth, state);
}

/**
 * An instance of a class that is not built in, as the transformer carries
 * it: its own serialized form if the transformer has one for it (told apart
 * from the form of a plain object with the same fields), else its own fields.
 */
function encodeClassInstance(object: object, name: string, depth: number, state: WalkState) {
  const { serialize } = state;
  if (serialize) {
    const carried = serialize(object);
    const encoded = carried === object ? undefined : encodeCarried(object, carried, depth, state);
    if (encoded !== undefined && encoded !== encode(serialize({ ...object }), depth, state)) {
      return `T${encoded}`;
    }
  }
  if (Object.keys(object).length === 0) {
    throw new TypeError(
      `input holds an instance of ${name || 'an anonymous class'} that the transformer carries nothing of (no own enumerable fields; #private fields cannot be read): register the class with the transformer (superjson.registerCustom) or pass plain data`,
    );
  }
  return `O${ownFields(object, Object.keys(object), depth, state)}`;
}

/** Met again inside its own serialized form: the transformer hands the instance on as it is. */
class HandedOn {}

/** The encoding of `carried`, `object`'s serialized form; `undefined` if it holds `object` itself. */
function encodeCarried(object: object, carried: unknown, depth: number, state: WalkState) {
  state.handedOn ??= new Set();
  state.handedOn.add(object);
  try {
    return encode(carried, depth, state);
  } catch (error) {
    if (error instanceof HandedOn) return undefined;
    throw error;
  } finally {
    state.handedOn.delete(object);
  }
}

/** The name of the class an object belongs to, from its prototype's constructor. */
function className(prototype: object): string {
  const maker = Object.getOwnPropertyDescriptor(prototype, 'constructor')?.value;
  return typeof maker === 'function' && typeof maker.name === 'string' ? maker.name : '';
}

/** The built-in type of a typed array, buffer or other exotic object (`Uint8Array`, `WeakMap`…). */
function typeName(object: object): string {
  return Object.prototype.toString.call(object).slice('[object '.length, -1);
}

/**
 * SHA-256 (base64url) of the {@link canonicalEncoding} of `input` without its
 * `idempotencyKey`: computed once, from the input as it arrived (after the
 * transformer deserialized it, before the input parsers ran), so a handler
 * that mutates its input cannot change it. Pass the transformer's input
 * `serialize` so instances of your classes count with the state it carries.
 * @see README.md#record-lifecycle
 */
export function fingerprintInput(input: unknown, opts: FingerprintOptions = {}): string {
  // Hashed as UTF-16: lossless for every string, lone surrogates included (UTF-8 would
  // turn each into U+FFFD, and "\ud800" would collide with "\ufffd").
  return hash('sha256', Buffer.from(encodeInput(input, walkState(opts)), 'utf16le'), 'base64url');
}

/**
 * The canonical encoding of `input` as if its `idempotencyKey` field were
 * not there: a plain object's fields are encoded without it, in place,
 * where a copy without the key would cost an object on every call.
 */
function encodeInput(input: unknown, state: WalkState): string {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return encode(input, 0, state);
  }
  const prototype = Object.getPrototypeOf(input);
  if (prototype !== Object.prototype && prototype !== null) return encode(input, 0, state);
  const keys = Object.keys(input);
  const keyAt = keys.indexOf(IDEMPOTENCY_KEY_FIELD);
  if (keyAt === -1) return encode(input, 0, state);
  keys.splice(keyAt, 1);
  // What `encode` does for the root: it counts as a value, and it is its own first ancestor.
  state.values++;
  state.ancestors.add(input);
  return `o${ownFields(input, keys, 1, state)}`;
}
