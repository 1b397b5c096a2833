import { defineConfig } from 'vitest/config';
import { nodeSourceConditions, sourceConditions } from '../../vitest.shared.ts';

export default defineConfig({
  resolve: { conditions: sourceConditions },
  // The in-process ledger server's metrics load OpenTelemetry: see nodeSourceConditions.
  ssr: { resolve: { conditions: nodeSourceConditions } },
  test: {
    include: ['test/**/*.test.ts'],
    // Builds the web app and the test page once, with Vite, into a temp folder.
    globalSetup: ['test/buildPages.globalSetup.ts'],
    // One Chromium at a time: the machine has two cores.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
