import { KEY_DOC, KEY_INVALID } from './documented';
import { json, transfer, transferRequest } from './requests';
import type { HostileCase, HostileFixture } from './types';

/** A transfer whose key is `key`: refused as an invalid key, with `message`. */
const badKey = (
  name: string,
  key: (f: HostileFixture) => unknown,
  message: RegExp,
): HostileCase => ({
  name,
  documented: KEY_DOC,
  request: (f) => transferRequest(f, { idempotencyKey: key(f) }),
  expect: { ...KEY_INVALID, message },
});

/** Key format cases: the key is bad in one way each; nothing is stored. */
export const keyCases: HostileCase[] = [
  {
    name: 'key missing',
    documented: KEY_DOC,
    request: (f) => {
      const { idempotencyKey: _, ...input } = transfer(f);
      return { path: 'transfers.create', body: json(input) };
    },
    expect: { ...KEY_INVALID, message: /`idempotencyKey` is missing/ },
  },
  badKey('key empty', () => '', /`idempotencyKey` is empty/),
  badKey('key null', () => null, /is missing/),
  badKey(
    'key too short (15 characters)',
    () => 'a'.repeat(15),
    /too short \(15 characters\).*16–255/,
  ),
  badKey('key too long (256 characters)', () => 'a'.repeat(256), /too long \(256 characters\)/),
  badKey('key of 100 000 characters', () => 'k'.repeat(100_000), /too long \(100000 characters\)/),
  badKey('key with spaces', () => 'my key with spaces 0001', /characters that are not allowed/),
  badKey('key with a newline and a tab', () => 'line-one-0001\nline\ttwo', /not allowed/),
  badKey('key with a NUL character', (f) => `${f.freshKey()}\u0000`, /not allowed/),
  badKey(
    'key with escape and DEL control characters',
    () => 'key-\u001b[31m-red-\u007f-0001',
    /not allowed/,
  ),
  badKey(
    'key with SQL injection',
    () => "x' OR '1'='1'; DROP TABLE idempotency_records; --",
    /not allowed/,
  ),
  badKey(
    'key with a Unicode look-alike (Cyrillic а)',
    (f) => `\u0430${f.freshKey().slice(1)}`,
    /not allowed/,
  ),
  badKey('key as a number', () => 1_234_567_890_123_456, /is a number/),
  badKey('key as a query operator object ({"$ne": null})', () => ({ $ne: null }), /is a object/),
  badKey('key as an array of a valid key', (f) => [f.freshKey()], /is a object/),
  {
    name: 'key only inside __proto__ (not an own field)',
    documented: KEY_DOC,
    request: (f) => {
      const { idempotencyKey, ...input } = transfer(f);
      // Written by hand: JSON.stringify would not write a __proto__ field.
      return {
        path: 'transfers.create',
        body: `{"__proto__":{"idempotencyKey":${json(idempotencyKey)}},${json(input).slice(1)}`,
      };
    },
    expect: { ...KEY_INVALID, message: /is missing/ },
  },
];
