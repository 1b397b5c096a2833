import { defineConfig } from 'vitest/config';
import { sourceConditions } from '../../vitest.shared.ts';

export default defineConfig({
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: sourceConditions } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // One Postgres server for the run (or DATABASE_URL's), a database of its own per use.
    globalSetup: ['../../packages/trpc-idempotency/test/stores/postgres.globalSetup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
