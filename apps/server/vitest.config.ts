import { defineConfig } from 'vitest/config';
import { workspaceTestConfig } from '../../vitest.shared.ts';

export default defineConfig(
  workspaceTestConfig({
    // One Postgres server for the run (or DATABASE_URL's), a database of its own per use.
    globalSetup: ['@ledger/testkit/postgres.globalSetup'],
  }),
);
