import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import * as client from './index';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module specifier reachable from the client entry, by file. */
function importsReachableFrom(entry: string) {
  const found = new Map<string, string[]>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (found.has(file)) continue;
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]!);
    found.set(file, specifiers);
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) pending.push(`${join(dirname(file), specifier)}.ts`);
    }
  }
  return found;
}

test('the client entry is browser-safe: it reaches only @trpc and shared code', () => {
  const allowedPackages = new Set([
    '@trpc/client',
    '@trpc/server/observable',
    // Type-only (erased from the bundle): checked below.
    '@trpc/server',
  ]);
  const reachable = importsReachableFrom(join(here, 'index.ts'));

  expect([...reachable.keys()].map((file) => relative(here, file)).sort()).toEqual([
    '../shared/idempotentInput.ts',
    '../shared/randomKey.ts',
    '../shared/reasons.ts',
    'errors.ts',
    'idempotencyLink.ts',
    'index.ts',
  ]);
  for (const [file, specifiers] of reachable) {
    for (const specifier of specifiers) {
      if (!specifier.startsWith('.')) expect(allowedPackages, file).toContain(specifier);
    }
    expect(readFileSync(file, 'utf8'), file).not.toMatch(/\bBuffer\b|\bprocess\.|\brequire\(/);
    // `@trpc/server` holds the server runtime: only its types may be imported here.
    expect(readFileSync(file, 'utf8'), file).not.toMatch(
      /import\s+(?!type\b)[^;]*from '@trpc\/server'/,
    );
  }
});

test('the public API', () => {
  expect(Object.keys(client).sort()).toEqual([
    'IDEMPOTENCY_KEY_FIELD',
    'IDEMPOTENCY_REASONS',
    'getIdempotencyReason',
    'getRetryAfterMs',
    'idempotencyLink',
    'isIdempotencyError',
    'isIdempotencyInProgress',
    'isIdempotencyKeyInvalid',
    'isIdempotencyKeyReused',
    'isIdempotencyResponseNotStorable',
    'isRetryableError',
  ]);
});
