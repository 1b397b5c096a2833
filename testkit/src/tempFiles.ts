import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A folder of its own under the OS temp folder; disposing it removes it with its contents. */
export interface TempDir extends Disposable {
  path: string;
}

/** Creates a {@link TempDir} named `<prefix>-<random>`. */
export function tempDir(prefix: string): TempDir {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

/** A SQLite database file not created yet, alone in a temp folder; disposing it removes both. */
export interface TempSqliteFile extends Disposable {
  file: string;
  /** `file:<file>`: the `DATABASE_URL` naming it. */
  url: string;
}

/** Creates a {@link TempSqliteFile}, `ledger.db` in a folder named after `prefix`. */
export function tempSqliteFile(prefix: string): TempSqliteFile {
  const dir = tempDir(prefix);
  const file = join(dir.path, 'ledger.db');
  return { file, url: `file:${file}`, [Symbol.dispose]: dir[Symbol.dispose] };
}
