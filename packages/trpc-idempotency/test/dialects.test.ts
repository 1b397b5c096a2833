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
