import { defineConfig } from 'vitest/config';
import { workspaceTestConfig } from '../vitest.shared.ts';

export default defineConfig(
  workspaceTestConfig({
    hookTimeout: 120_000,
    // One Postgres server for the run (or DATABASE_URL's), a database of its own per use.
    globalSetup: ['@ledger/testkit/postgres.globalSetup'],
    // One file at a time: each spawns server processes, and on a 2-core CI
    // machine files in parallel would only make timing noisier.
    fileParallelism: false,
  }),
);
