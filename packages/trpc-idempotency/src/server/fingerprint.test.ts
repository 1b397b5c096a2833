import { describe, expect, it } from 'vitest';
import { canonicalJson, fingerprintInput } from './fingerprint';

describe('canonicalJson', () => {
  it('sorts object keys recursively and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe(
      '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('writes what JSON.stringify writes for values', () => {
    const value = { s: 'é"\n', n: 1.5, t: true, d: new Date(0), u: undefined, arr: [undefined] };
    expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)));
  });

  it('treats __proto__ and constructor as plain keys, without touching prototypes', () => {
    const hostile = JSON.parse(
      '{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}',
    );
    const text = canonicalJson(hostile);
    expect(text).toBe('{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}');
    expect(Object.prototype).not.toHaveProperty('polluted');
    // A payload with the key differs from one without it.
    expect(fingerprintInput(hostile)).not.toBe(fingerprintInput({}));
  });

  it('refuses absurdly deep input instead of overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10_000; i++) deep = [deep];
    expect(() => canonicalJson(deep)).toThrow(/nested deeper than 256/);
  });
});

describe('fingerprintInput', () => {
  it('ignores the idempotency key and key order', () => {
    expect(fingerprintInput({ idempotencyKey: 'a', x: 1, y: 2 })).toBe(
      fingerprintInput({ y: 2, x: 1, idempotencyKey: 'b' }),
    );
  });

  it('differs for different input, including types', () => {
    expect(fingerprintInput({ x: 1 })).not.toBe(fingerprintInput({ x: '1' }));
    expect(fingerprintInput({ x: [1, 2] })).not.toBe(fingerprintInput({ x: [2, 1] }));
  });

  it('is a base64url SHA-256', () => {
    expect(fingerprintInput({ x: 1 })).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
