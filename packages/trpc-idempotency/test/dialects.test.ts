import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const src = join(import.meta.dirname, '..', 'src');

/** Module specifiers imported by the files of one source folder. */
function importsOf(folder: string) {
  return readdirSync(join(src, folder), { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
    .flatMap((file) =>
      [...readFileSync(join(src, folder, file), 'utf8').matchAll(/from '([^']+)'/g)].map(
        (match) => `${folder}/${file}: ${match[1]}`,
      ),
    );
}

it('keeps each dialect’s entry free of the other dialect and its driver', () => {
  expect(importsOf('pg').filter((line) => /sqlite/.test(line))).toEqual([]);
  expect(
    importsOf('sqlite').filter((line) =>
      /: (pg|\.\.\/pg\/.*|drizzle-orm\/node-postgres.*)$/.test(line),
    ),
  ).toEqual([]);
});

it('keeps the shared Drizzle statement parts and the store contract free of any dialect', () => {
  const dialectSpecific =
    /: (pg|better-sqlite3|drizzle-orm\/(pg-core|sqlite-core|node-postgres|better-sqlite3).*|\.\.\/(pg|sqlite)\/.*)$/;
  expect(importsOf('drizzle').filter((line) => dialectSpecific.test(line))).toEqual([]);
  expect(importsOf('store').filter((line) => dialectSpecific.test(line))).toEqual([]);
  expect(importsOf('server').filter((line) => dialectSpecific.test(line))).toEqual([]);
});
