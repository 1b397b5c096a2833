import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package's `drizzle/<dialect>` folder of drizzle-kit migrations, from the
 * source tree or the built `dist/`. Dialect-free, so neither store's entry
 * loads the other's driver.
 */
export function shippedMigrationsFolder(dialect: 'sqlite' | 'pg' | 'mysql') {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let level = 0; level < 4; level++) {
    const folder = join(dir, 'drizzle', dialect);
    if (existsSync(join(folder, 'meta', '_journal.json'))) return folder;
    dir = dirname(dir);
  }
  throw new Error(
    `trpc-idempotency: shipped ${dialect} migrations not found above ${import.meta.url}`,
  );
}
