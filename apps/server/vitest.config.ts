import { defineConfig } from 'vitest/config';
import { nodeSourceConditions, workspaceTestConfig } from '../../vitest.shared.ts';

const config = workspaceTestConfig({
  // One Postgres server for the run (or DATABASE_URL's), a database of its own per use.
  globalSetup: ['@ledger/testkit/postgres.globalSetup'],
});

export default defineConfig({
  ...config,
  // The metrics load OpenTelemetry's SDK: see nodeSourceConditions.
  ssr: { resolve: { conditions: nodeSourceConditions } },
});
