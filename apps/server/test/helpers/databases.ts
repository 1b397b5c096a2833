import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, inject } from 'vitest';
// The library's embedded-Postgres helper: one implementation for the workspace.
import {
  createTestDatabase,
  type PostgresServer,
  startPostgres,
} from '../../../../packages/trpc-idempotency/test/stores/postgres';

/** The databases the server runs on; the contract tests run on each. */
export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];

/**
 * Fresh, empty databases for one test file: `create('sqlite')` is a file in a
 * temp folder, `create('postgres')` a database of its own on the run's
 * Postgres server (vitest `globalSetup`, or `DATABASE_URL` when it is a
 * postgres:// URL), or on a server this file starts. Everything is removed
 * or dropped after the file.
 */
export function useFreshDatabases() {
  const cleanups: Array<() => PromiseLike<void> | void> = [];
  let server: PostgresServer | undefined;
  let serverUrl: string | undefined;

  afterAll(async () => {
    try {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    } finally {
      await server?.[Symbol.asyncDispose]();
    }
  });

  return {
    /** A `DATABASE_URL` naming a new, empty database of `dialect`. */
    async create(dialect: Dialect): Promise<string> {
      if (dialect === 'sqlite') {
        const dir = mkdtempSync(join(tmpdir(), 'ledger-test-'));
        cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
        return `file:${join(dir, 'ledger.db')}`;
      }
      if (!serverUrl) {
        serverUrl = inject('postgresUrl');
        if (!serverUrl) {
          server = await startPostgres();
          serverUrl = server.url;
        }
      }
      const database = await createTestDatabase(serverUrl);
      cleanups.push(() => database[Symbol.asyncDispose]());
      return database.url;
    },
  };
}
