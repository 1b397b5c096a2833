import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import * as reactQuery from './index';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module specifier reachable from an entry, by file. */
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

test('the react-query entry is browser-safe: it reaches only its peers, idb-keyval and client code', () => {
  const allowedPackages = new Set([
    '@tanstack/react-query',
    '@trpc/client',
    '@trpc/server/observable',
    // Type-only (erased from the bundle): checked below.
    '@trpc/server',
    'idb-keyval',
    'react',
  ]);
  const reachable = importsReachableFrom(join(here, 'index.ts'));

  expect([...reachable.keys()].map((file) => relative(here, file)).sort()).toEqual([
    '../client/errors.ts',
    '../shared/idempotentInput.ts',
    '../shared/randomKey.ts',
    '../shared/reasons.ts',
    'idempotentMutationOptions.ts',
    'index.ts',
    'pendingOperations.ts',
    'useIdempotentMutation.ts',
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
  expect(Object.keys(reactQuery).sort()).toEqual([
    'DEFAULT_RETRIES',
    'MissingIdempotencyKeyError',
    'PendingOperationsProvider',
    'createPendingOperations',
    'getIdempotencyKey',
    'idempotentMutationOptions',
    'idempotentRetry',
    'idempotentRetryDelay',
    'useIdempotentMutation',
  ]);
});
