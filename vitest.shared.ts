/**
 * Inside this workspace, packages resolve each other to their TypeScript
 * source (the `@trpc-idempotency/source` export condition), so tests and the
 * example run without a build step. The rest are Vite's default server conditions.
 */
export const sourceConditions = [
  '@trpc-idempotency/source',
  'module',
  'node',
  'development|production',
];

/**
 * {@link sourceConditions} without `module`, for the server side of tests
 * (`ssr.resolve.conditions`): vitest passes these conditions to Node itself
 * (`--conditions`) for the packages it does not transform, and
 * OpenTelemetry's `module` builds (the example server's metrics) import
 * without file extensions, for bundlers, which Node cannot load.
 */
export const nodeSourceConditions = sourceConditions.filter((condition) => condition !== 'module');

/**
 * The vitest config of a workspace package whose tests run in Node, on the
 * packages' source, with `test` over these defaults. Pass it to `defineConfig`.
 */
export function workspaceTestConfig<TTest extends object>(test: TTest) {
  return {
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: nodeSourceConditions } },
    // vitest 4 imports `globalSetup` files in an environment of its own: the kit's Postgres
    // set-up reads `DATABASE_URL` with the library's source.
    environments: { __vitest__: { resolve: { conditions: sourceConditions } } },
    test: {
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      ...test,
    },
  };
}
