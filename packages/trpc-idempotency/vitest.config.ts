import { defineConfig } from 'vitest/config';
import { nodeSourceConditions, sourceConditions } from '../../vitest.shared.ts';

/**
 * The builder's and the link's suites, run a second time against
 * `@trpc/server-lowest` and `@trpc/client-lowest`: aliases of the lowest
 * version of the peer ranges, 11.22.1 (the version `@trpc/tanstack-react-query`
 * pins, so an npm install of the React stack resolves to it), so the internals
 * `src/internal/trpc.ts` relies on are checked where they are oldest (the
 * builder's steps, error shapes, and a router's `_def` walked by
 * `idempotentPaths`). The zod internals (`src/internal/zod.ts`) are checked
 * on zod 4 and zod 3 (`zod/v3`) by `keyedInput.test.ts`, in both projects.
 */
const builderSuites = [
  'src/client/idempotencyLink.test.ts',
  'src/client/errors.test.ts',
  'test/fingerprint.http.test.ts',
  'test/events.test.ts',
  'test/trpcVersion.test.ts',
  'test/idempotentProcedure.test.ts',
  'test/hotPath.test.ts',
  'test/http.test.ts',
  'test/keyedInput.test.ts',
  'test/idempotentPaths.test.ts',
  'test/transformer.test.ts',
  'test/responseHeaders.test.ts',
  'test/lease.test.ts',
  'test/transactional.sqlite.test.ts',
  'test/headerKey.test.ts',
  'test/telemetry.test.ts',
];

export default defineConfig({
  // The examples import the package by its name, as an app does: resolve it to the source.
  resolve: { conditions: sourceConditions },
  ssr: { resolve: { conditions: nodeSourceConditions } },
  test: {
    testTimeout: 20_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'default',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts'],
          // The Quickstart's router opens DATABASE_FILE when imported (examples/procedures.test.ts).
          env: { DATABASE_FILE: ':memory:' },
          typecheck: { enabled: true, include: ['src/**/*.test-d.ts', 'test/**/*.test-d.ts'] },
        },
      },
      {
        extends: true,
        resolve: {
          alias: [
            { find: /^@trpc\/server(\/.*)?$/, replacement: '@trpc/server-lowest$1' },
            { find: /^@trpc\/client(\/.*)?$/, replacement: '@trpc/client-lowest$1' },
          ],
        },
        test: {
          name: 'trpc-lowest',
          include: builderSuites,
          env: { TRPC_UNDER_TEST: 'lowest' },
          // Inlined, so the aliases apply inside them too: the lowest client on the lowest server.
          server: { deps: { inline: [/@trpc\/client-lowest/, /@trpc\/server-lowest/] } },
        },
      },
    ],
  },
});
