import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { expect } from 'vitest';

/** Every module specifier reachable from `entry`, by file (relative imports followed). */
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

/**
 * Checks that a browser entry reaches exactly `files` (relative to its folder)
 * and no package beyond `packages`; that nothing uses Node's globals; and that
 * `@trpc/server`, the server runtime, is imported for its types only.
 */
export function expectBrowserSafe(opts: { entry: string; files: string[]; packages: string[] }) {
  const here = dirname(opts.entry);
  const reachable = importsReachableFrom(opts.entry);
  expect([...reachable.keys()].map((file) => relative(here, file)).sort()).toEqual(
    [...opts.files].sort(),
  );
  const allowed = new Set([...opts.packages, '@trpc/server']);
  for (const [file, specifiers] of reachable) {
    for (const specifier of specifiers) {
      if (!specifier.startsWith('.')) expect(allowed, file).toContain(specifier);
    }
    const source = readFileSync(file, 'utf8');
    expect(source, file).not.toMatch(/\bBuffer\b|\bprocess\.|\brequire\(/);
    expect(source, file).not.toMatch(/import\s+(?!type\b)[^;]*from '@trpc\/server'/);
  }
}
