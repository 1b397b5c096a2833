import { describe, expect, it } from 'vitest';
import { operatorScope, recordScope } from './recordScope';

const hashed = /^sha256:[A-Za-z0-9_-]{43}$/;

describe('recordScope', () => {
  it('keeps a short, well-formed scope as it is', () => {
    expect(recordScope('acme')).toBe('acme');
    expect(recordScope('user-😀')).toBe('user-😀');
  });

  it('hashes a scope longer than 200 UTF-8 bytes, and one that looks like a hash', () => {
    expect(recordScope('x'.repeat(201))).toMatch(hashed);
    expect(recordScope('x'.repeat(200))).toBe('x'.repeat(200));
    expect(recordScope('sha256:abc')).toMatch(hashed);
    expect(recordScope('sha256:abc')).not.toBe('sha256:abc');
  });

  it('never merges scopes that differ only in ill-formed UTF-16 (lone surrogates)', () => {
    const scopes = ['acme\ud800', 'acme\udbff', 'acme\udc00', 'acme\ufffd', 'acme', '\ud800acme'];
    const stored = scopes.map(recordScope);
    expect(new Set(stored).size).toBe(scopes.length);
    // What reaches a database is ASCII: nothing a UTF-8 encoder could replace.
    for (const scope of stored.slice(0, 3)) expect(scope).toMatch(hashed);
    expect(recordScope('acme\ufffd')).toBe('acme\ufffd');
    // A pair is well-formed; its halves alone are not.
    expect(recordScope('a\ud83d\ude00')).toBe('a😀');
    expect(recordScope('a\ude00\ud83d')).toMatch(hashed);
  });

  it('an ill-formed scope never hashes like a well-formed one with the same bytes', () => {
    // "\u0000\u0600\u0000" in UTF-8 is 00 d8 80 00, the UTF-16LE bytes of "\ud800\u0080".
    const wellFormed = `${'\u0000\u0600\u0000'}${'x'.repeat(200)}`;
    const illFormed = `\ud800\u0080${'x'.repeat(200)}`;
    expect(
      Buffer.from(wellFormed.slice(0, 3)).equals(Buffer.from(illFormed.slice(0, 2), 'utf16le')),
    ).toBe(true);
    expect(recordScope(illFormed)).not.toBe(recordScope(wellFormed));
  });
});

describe('operatorScope (the CLI and admin API)', () => {
  it('takes the hashed form the CLI prints as the stored scope', () => {
    const long = 'tenant-'.repeat(40);
    expect(operatorScope(recordScope(long))).toBe(recordScope(long));
    expect(operatorScope(long)).toBe(recordScope(long));
    expect(operatorScope('acme')).toBe('acme');
  });

  it('hashes anything else that starts with sha256:, as the builder stores it', () => {
    expect(operatorScope('sha256:short')).toBe(recordScope('sha256:short'));
  });
});
