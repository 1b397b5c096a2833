import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { canonicalEncoding, fingerprintInput } from './fingerprint';

class Point {
  x = 0;
  y = 0;
}
class Money {
  amount = 0;
}
superjson.registerClass(Point, { identifier: 'Point' });

/** Values the transformer tells apart; each pair's fingerprints must differ. */
const lookAlikes: [string, unknown, unknown][] = [
  ['Map {a: 1} vs Map {evil: 999999}', new Map([['a', 1]]), new Map([['evil', 999_999]])],
  ['Map vs {}', new Map(), {}],
  ['Map {a: 1} vs {a: 1}', new Map([['a', 1]]), { a: 1 }],
  ['Map with key "1" vs key 1', new Map([['1', 'x']]), new Map([[1, 'x']])],
  ['Set {x} vs Set {y, z}', new Set(['x']), new Set(['y', 'z'])],
  ['Set {1} vs [1]', new Set([1]), [1]],
  ['Set vs Map', new Set(), new Map()],
  ['/a/ vs /b/', /a/, /b/],
  ['/a/ vs /a/g', /a/, /a/g],
  ['/a/ vs "/a/"', /a/, '/a/'],
  ['5n vs "5"', 5n, '5'],
  ['5n vs 5', 5n, 5],
  ['a Date vs its ISO string', new Date(0), new Date(0).toISOString()],
  ['a Date vs its time', new Date(0), 0],
  ['an invalid Date vs null', new Date(Number.NaN), null],
  ['NaN vs null', Number.NaN, null],
  ['Infinity vs null', Number.POSITIVE_INFINITY, null],
  ['Infinity vs -Infinity', Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
  ['Infinity vs "Infinity"', Number.POSITIVE_INFINITY, 'Infinity'],
  ['-0 vs 0', -0, 0],
  ['undefined vs null', undefined, null],
  ['{a: undefined} vs {}', { a: undefined }, {}],
  ['[undefined] vs [null]', [undefined], [null]],
  ['a hole vs undefined', new Array(1).concat([1]), [undefined, 1]],
  ['1 vs "1"', 1, '1'],
  ['true vs "true"', true, 'true'],
  ['"\\ud800" vs "\\ufffd" (a lone surrogate vs the replacement character)', '\ud800', '\ufffd'],
  ['Uint8Array [1] vs Int8Array [1]', new Uint8Array([1]), new Int8Array([1])],
  ['Uint8Array [1] vs [1]', new Uint8Array([1]), [1]],
  ['Uint8Array [1, 2] vs [2, 1]', new Uint8Array([1, 2]), new Uint8Array([2, 1])],
  ['Buffer vs Uint8Array', Buffer.from([1]), new Uint8Array([1])],
  ['a Point vs a plain object', Object.assign(new Point(), { x: 1 }), { x: 1, y: 0 }],
  ['a Point vs a Money', new Point(), new Money()],
  ['Error "a" vs Error "b"', new Error('a'), new Error('b')],
  ['TypeError vs Error', new TypeError('a'), new Error('a')],
  ['an URL vs its text', new URL('https://example.com/'), 'https://example.com/'],
  ['["a,b"] vs ["a", "b"]', ['a,b'], ['a', 'b']],
  ['{"a": "b"} vs {"a\\"": ""}', { a: 'b' }, { 'a"': '' }],
  ['{a: {b: 1}} vs {"a.b": 1}', { a: { b: 1 } }, { 'a.b': 1 }],
  ['[[]] vs [[], []]', [[]], [[], []]],
];

describe('canonicalEncoding', () => {
  it.each(lookAlikes)('tells apart %s', (_, a, b) => {
    expect(canonicalEncoding(a)).not.toBe(canonicalEncoding(b));
    expect(fingerprintInput({ value: a })).not.toBe(fingerprintInput({ value: b }));
  });

  it('sorts object keys recursively, and Map entries and Set elements, keeping array order', () => {
    expect(canonicalEncoding({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      canonicalEncoding({ a: { c: null, d: [3, { y: 2, z: 1 }] }, b: 1 }),
    );
    expect(
      canonicalEncoding(
        new Map<unknown, number>([
          ['b', 2],
          [{ k: 1 }, 3],
          ['a', 1],
        ]),
      ),
    ).toBe(
      canonicalEncoding(
        new Map<unknown, number>([
          ['a', 1],
          ['b', 2],
          [{ k: 1 }, 3],
        ]),
      ),
    );
    expect(canonicalEncoding(new Set(['y', 'x']))).toBe(canonicalEncoding(new Set(['x', 'y'])));
    expect(canonicalEncoding([1, 2])).not.toBe(canonicalEncoding([2, 1]));
  });

  it('is a readable, length-prefixed grammar', () => {
    expect(canonicalEncoding({ b: [1, 'x'], a: null })).toBe('o2:1:an1:ba2:d1:1s1:x');
    expect(canonicalEncoding(new Map([['k', 5n]]))).toBe('c3:MapM1:s1:kb1:5');
  });

  it('treats __proto__ and constructor as plain keys, without touching prototypes', () => {
    const hostile = JSON.parse(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}',
    );
    expect(canonicalEncoding(hostile)).toBe(
      'o2:9:__proto__o1:8:pollutedt11:constructoro1:9:prototypeo1:1:xd1:1',
    );
    expect(Object.prototype).not.toHaveProperty('polluted');
    expect(fingerprintInput(hostile)).not.toBe(fingerprintInput({}));
  });

  it('reads an object without a prototype as the plain object it is', () => {
    // The same data: no transformer tells them apart (JSON.parse never makes the first).
    const bare = Object.assign(Object.create(null), { a: 1 });
    expect(canonicalEncoding(bare)).toBe(canonicalEncoding({ a: 1 }));
  });

  it('refuses absurdly deep input instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(() => canonicalEncoding(deep)).toThrow(/nested deeper than 256 levels/);
    let deepMap: unknown = 1;
    for (let i = 0; i < 300; i++) deepMap = new Map([['k', deepMap]]);
    expect(() => canonicalEncoding(deepMap)).toThrow(RangeError);
  });

  it('refuses cycles, which superjson can deserialize, with a clear error', () => {
    const object: Record<string, unknown> = { a: 1 };
    object['self'] = object;
    const array: unknown[] = [];
    array.push([array]);
    const map = new Map<string, unknown>();
    map.set('me', map);
    const set = new Set<unknown>();
    set.add({ set });
    for (const cyclic of [object, array, map, set]) {
      expect(() => canonicalEncoding(cyclic)).toThrow(TypeError);
      expect(() => canonicalEncoding(cyclic)).toThrow(/holds a cycle/);
    }
    const viaSuperjson = superjson.parse(superjson.stringify(object));
    expect(() => fingerprintInput({ idempotencyKey: 'k', value: viaSuperjson })).toThrow(
      /holds a cycle/,
    );
  });

  it('encodes a value shared by several parents each time, but refuses an exponential tree', () => {
    const shared = { amount: 1 };
    expect(canonicalEncoding([shared, shared])).toBe(
      canonicalEncoding([{ amount: 1 }, { amount: 1 }]),
    );
    // 2^40 leaves behind 40 objects, as a transformer keeping references can deliver them.
    let bomb: unknown = 'leaf';
    for (let i = 0; i < 40; i++) bomb = [bomb, bomb];
    expect(() => canonicalEncoding(bomb)).toThrow(/more than 1000000 values: too large/);
  });

  it('refuses what has no value to fingerprint', () => {
    expect(() => canonicalEncoding({ run: () => 1 })).toThrow(/holds a function/);
    expect(() => canonicalEncoding(new WeakMap())).toThrow(/holds a WeakMap/);
    expect(() => canonicalEncoding(Promise.resolve(1))).toThrow(/holds a Promise/);
  });
});

/** State in a `#private` field only: what `Object.keys` and `{...}` cannot see. */
class PrivateMoney {
  readonly #cents: number;
  constructor(cents: number) {
    this.#cents = cents;
  }
  get cents() {
    return this.#cents;
  }
}
class PrivateAndPublic {
  readonly #secret: number;
  readonly label: string;
  constructor(secret: number, label: string) {
    this.#secret = secret;
    this.label = label;
  }
  get secret() {
    return this.#secret;
  }
}

describe('instances of your classes: fingerprinted as the transformer carries them', () => {
  const transformer = new superjson();
  transformer.registerCustom<PrivateMoney, string>(
    {
      isApplicable: (value): value is PrivateMoney => value instanceof PrivateMoney,
      serialize: (money) => String(money.cents),
      deserialize: (cents) => new PrivateMoney(Number(cents)),
    },
    'PrivateMoney',
  );
  transformer.registerClass(PrivateAndPublic, { identifier: 'PrivateAndPublic' });
  const serialize = (value: unknown) => transformer.serialize(value);

  it('superjson registerCustom: two amounts in #private fields get two fingerprints', () => {
    const one = { amount: new PrivateMoney(100) };
    const many = { amount: new PrivateMoney(999_999) };
    expect(fingerprintInput(one, { serialize })).not.toBe(fingerprintInput(many, { serialize }));
    expect(fingerprintInput(one, { serialize })).toBe(
      fingerprintInput({ amount: new PrivateMoney(100) }, { serialize }),
    );
    // What the transformer delivers after a round trip is fingerprinted alike.
    const delivered = transformer.deserialize(transformer.serialize(one));
    expect(fingerprintInput(delivered, { serialize })).toBe(fingerprintInput(one, { serialize }));
  });

  it('the transformer form is not confused with plain data of the same shape', () => {
    expect(fingerprintInput({ amount: new PrivateMoney(100) }, { serialize })).not.toBe(
      fingerprintInput({ amount: '100' }, { serialize }),
    );
  });

  it('superjson registerClass: what it carries (own fields, the class tag) counts, #private state it drops does not', () => {
    const a = new PrivateAndPublic(1, 'x');
    expect(fingerprintInput(a, { serialize })).not.toBe(
      fingerprintInput(new PrivateAndPublic(1, 'y'), { serialize }),
    );
    expect(fingerprintInput(a, { serialize })).not.toBe(
      fingerprintInput({ label: 'x' }, { serialize }),
    );
    expect(canonicalEncoding(a, { serialize })).toMatch(/^c16:PrivateAndPublicT/);
  });

  it('refuses an instance the transformer carries nothing of, instead of a silent collision', () => {
    expect(() => fingerprintInput({ amount: new PrivateMoney(1) })).toThrow(
      /instance of PrivateMoney that the transformer carries nothing of .*registerCustom/,
    );
    // superjson without a registration sends it as an empty object: the same refusal.
    expect(() =>
      fingerprintInput(
        { amount: new PrivateMoney(1) },
        { serialize: (v) => superjson.serialize(v) },
      ),
    ).toThrow(/carries nothing of/);
    // An identity transformer (tRPC's default) hands the instance back: its own fields count.
    const identity = (value: unknown) => value;
    expect(fingerprintInput(new PrivateAndPublic(1, 'x'), { serialize: identity })).not.toBe(
      fingerprintInput(new PrivateAndPublic(1, 'y'), { serialize: identity }),
    );
  });
});

describe('fingerprintInput', () => {
  it('ignores the idempotency key and key order', () => {
    expect(fingerprintInput({ idempotencyKey: 'a', x: 1, y: 2 })).toBe(
      fingerprintInput({ y: 2, x: 1, idempotencyKey: 'b' }),
    );
    expect(fingerprintInput({ idempotencyKey: 'a', x: 1 })).toBe(fingerprintInput({ x: 1 }));
  });

  it('differs for different input, including types', () => {
    expect(fingerprintInput({ x: 1 })).not.toBe(fingerprintInput({ x: '1' }));
    expect(fingerprintInput({ x: [1, 2] })).not.toBe(fingerprintInput({ x: [2, 1] }));
  });

  it('is a base64url SHA-256', () => {
    expect(fingerprintInput({ x: 1 })).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

/**
 * Arbitrary inputs of every type the transformers deliver. `isDeepStrictEqual`
 * is the oracle of "the same input"; it differs from the fingerprint on two
 * points left out here and tested above: it calls two invalid dates, and a
 * plain object and one without a prototype, different.
 */
const { value: arbitraryInput } = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.constantFrom(null, undefined, true, false, 0, -0, Number.NaN, 5, '5', 5n, '', 'a'),
    fc.double(),
    fc.integer(),
    fc.bigInt(),
    fc.string(),
    fc.string({ unit: 'binary' }),
    // Any UTF-16 code unit, lone surrogates included.
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) }),
    fc.date({ noInvalidDate: true }),
    fc.constantFrom(/a/, /a/g, /b/, /a/i, /[/]/, /a|b/u),
    fc.uint8Array({ maxLength: 4 }),
    fc.int8Array({ maxLength: 4 }),
    fc.float64Array({ maxLength: 2 }),
  ),
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.sparseArray(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 3 }), tie('value'), { maxKeys: 4, noNullPrototype: true }),
    fc
      .array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 })
      .map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => new Set(items)),
    fc
      .dictionary(fc.constantFrom('x', 'y'), tie('value'), { noNullPrototype: true })
      .map((fields) => Object.assign(new Point(), fields)),
  ),
}));

/** The same value built again with every object's keys, Map entries and Set elements in reverse. */
function reordered(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const copy = new Array(value.length);
    for (let i = 0; i < value.length; i++) if (i in value) copy[i] = reordered(value[i]);
    return copy;
  }
  if (value instanceof Map) {
    return new Map([...value].reverse().map(([k, v]) => [reordered(k), reordered(v)]));
  }
  if (value instanceof Set) return new Set([...value].reverse().map(reordered));
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null && !(value instanceof Point)) {
    return value;
  }
  const copy = Object.create(prototype) as Record<string, unknown>;
  for (const key of Object.keys(value).reverse()) {
    Object.defineProperty(copy, key, {
      value: reordered((value as Record<string, unknown>)[key]),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

describe('fingerprintInput, property-based (fast-check)', () => {
  it('two inputs get one fingerprint exactly when they are deeply, strictly equal', () => {
    fc.assert(
      fc.property(arbitraryInput, arbitraryInput, (a, b) => {
        const same = fingerprintInput({ value: a }) === fingerprintInput({ value: b });
        expect(same).toBe(isDeepStrictEqual(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('a value and a small change of it get different fingerprints', () => {
    // Pairs that are often close: the same structure with one leaf replaced.
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 2 }), arbitraryInput, {
          minKeys: 1,
          maxKeys: 3,
          noNullPrototype: true,
        }),
        arbitraryInput,
        fc.nat(),
        (fields, replacement, pick) => {
          const keys = Object.keys(fields);
          const key = keys[pick % keys.length]!;
          const changed = { ...fields, [key]: replacement };
          fc.pre(!isDeepStrictEqual(fields[key], replacement));
          expect(fingerprintInput(changed)).not.toBe(fingerprintInput(fields));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('the same input with its keys, Map entries and Set elements in another order gets the same fingerprint', () => {
    fc.assert(
      fc.property(arbitraryInput, (value) => {
        expect(fingerprintInput({ idempotencyKey: 'k', value })).toBe(
          fingerprintInput({ value: reordered(value), idempotencyKey: 'other' }),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('a JSON or superjson round trip changes the fingerprint exactly when it changes the value', () => {
    fc.assert(
      fc.property(arbitraryInput, (value) => {
        let json: unknown;
        try {
          json = JSON.parse(JSON.stringify({ value }) ?? '{}');
        } catch {
          return; // BigInt: JSON cannot write it at all.
        }
        const lossless = isDeepStrictEqual(json, { value });
        expect(fingerprintInput(json) === fingerprintInput({ value })).toBe(lossless);
        // superjson keeps every type here (it writes an array's holes as undefined).
        const viaSuperjson = superjson.parse(superjson.stringify({ value }));
        expect(fingerprintInput(viaSuperjson) === fingerprintInput({ value })).toBe(
          isDeepStrictEqual(viaSuperjson, { value }),
        );
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fingerprintInput: stored fingerprints stay what they were', () => {
  // Records outlive releases: a retry that reaches a newer server must find the
  // fingerprint its first request stored, or it is refused with a 422. These
  // values were computed by the release that first stored them; a faster
  // encoding must give exactly these.
  const wire = { serialize: (value: unknown) => superjson.serialize(value) };
  const stored: [string, () => unknown, string, boolean?][] = [
    [
      'a transfer (its key left out)',
      () => ({
        fromAccountId: 'acc_a',
        toAccountId: 'acc_b',
        amount: 1,
        idempotencyKey: 'k-0-000000000001',
      }),
      'C_SZ2QSN__adOm-yzCOZ1A_CSrKnIt3xzSg8Gii0vA4',
    ],
    [
      'the same transfer without a key',
      () => ({ fromAccountId: 'acc_a', toAccountId: 'acc_b', amount: 1 }),
      'C_SZ2QSN__adOm-yzCOZ1A_CSrKnIt3xzSg8Gii0vA4',
    ],
    [
      'nested objects, arrays, holes, null, undefined',
      () => ({
        // biome-ignore lint/suspicious/noSparseArray: a hole is one of the values encoded
        b: [1, , 'x', null, undefined, { z: -0, y: Number.NaN }],
        a: { c: true, d: false },
        idempotencyKey: 'kkkkkkkkkkkkkkkk',
      }),
      'OtHYW04Pe2XDsEa9gWppiKNSJNrvm2qepYYQDdu_AJo',
    ],
    [
      'a lone surrogate and astral text',
      () => ({ s: '\ud800', t: 'héllo 😀', u: '' }),
      'hNzC8w8kIxqGq2wD4lTZFtu4C9K7kX33b-so5Cim_N4',
    ],
    [
      'numbers and a bigint',
      () => ({ n: [0, 1.5, -2e-7, 1e21, Number.POSITIVE_INFINITY], b: 12345678901234567890n }),
      'q8qHLAfLEgXSQcEyEG7w4YYHrOpcnYO2YafhguAOvMg',
    ],
    [
      'Map, Set, Date, RegExp, bytes, URL, Error',
      () => ({
        m: new Map<unknown, unknown>([
          ['b', 2],
          [1, 'a'],
        ]),
        s: new Set(['y', 'x']),
        d: new Date(0),
        r: /a+/gi,
        u8: new Uint8Array([1, 2]),
        url: new URL('https://example.com/a?b=1'),
        e: new TypeError('boom'),
      }),
      '7Kpi5PYWXjwTVD_baJhizTPUpykdnsvojnUmchTaHuw',
    ],
    [
      'a class the transformer registered',
      () => ({ p: Object.assign(new Point(), { x: 3 }) }),
      '7qemNOzDlZZc7IMwUcnjAxCCoiSNQ-QEOkKPQUkmYKc',
      true,
    ],
    [
      'a top-level array',
      () => [1, 'two', { three: 3 }],
      'JDgvOoMJ_n-TyKTQo83YcuD--FsceKQxZbQhCtDREwA',
    ],
    ['a string', () => 'plain', 'VNG5fE2GLy1s1iyTSHQCrvNSxJAA8VU9dxflXrPyJRw'],
    [
      'a key field that is not a string (left out all the same)',
      () => ({ idempotencyKey: 42, a: 1 }),
      'ckaHpcKZuyuZW_d5r-A-09C-Zs66aCgDhP8lBkfdFZo',
    ],
    [
      '__proto__ and constructor as keys',
      () =>
        JSON.parse(
          '{"__proto__": {"x": 1}, "constructor": "c", "idempotencyKey": "kkkkkkkkkkkkkkkk"}',
        ),
      'OurIHIFiu7Nmv9qBYGQvHs_f41AGgYgIY1H6u1MyuWs',
    ],
    [
      'a null-prototype object',
      () => Object.assign(Object.create(null), { b: 1, a: 2, idempotencyKey: 'kkkkkkkkkkkkkkkk' }),
      'ctyd5ha06O_KG19UxNofvQGIguOHQAsbtQVJi3yqHic',
    ],
  ];

  it.each(stored)('%s', (_, input, fingerprint, withSuperjson) => {
    expect(fingerprintInput(input(), withSuperjson ? wire : {})).toBe(fingerprint);
  });
});
