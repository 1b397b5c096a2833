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
