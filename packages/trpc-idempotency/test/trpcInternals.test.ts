import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, it } from 'vitest';
import packageJson from '../package.json' with { type: 'json' };

const root = join(import.meta.dirname, '..');

/** The shipped source files: `src/**` minus what package.json's `files` leaves out. */
function shippedSources() {
  const excluded = packageJson.files
    .filter((pattern) => pattern.startsWith('!'))
    .map((pattern) => pattern.slice(1));
  const matches = (file: string, pattern: string) =>
    pattern.includes('*')
      ? file.endsWith(pattern.slice(pattern.lastIndexOf('*') + 1))
      : file === pattern;
  return readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
    .map((file) => `src/${file}`)
    .filter((file) => file.endsWith('.ts'))
    .filter((file) => !excluded.some((pattern) => matches(file, pattern)));
}

it('imports tRPC internals from src/internal/trpc.ts only', () => {
  const importers = shippedSources().filter((file) =>
    /from '@trpc\/server\/unstable-core-do-not-import'/.test(
      readFileSync(join(root, file), 'utf8'),
    ),
  );
  expect(importers).toEqual(['src/internal/trpc.ts']);
  expect(shippedSources()).toContain('src/server/idempotentProcedure.ts');
  expect(shippedSources().map((file) => relative('src', file))).not.toContain(
    'client/testServerResource.ts',
  );
});
