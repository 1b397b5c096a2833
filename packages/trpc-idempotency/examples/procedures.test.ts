// procedures.test.ts: the client's set is exactly the server's idempotent mutations
import { idempotentPaths } from 'trpc-idempotency';
import type { IdempotentProcedures } from 'trpc-idempotency/client';
import { expect, it } from 'vitest';
import { type AppRouter, appRouter } from './quickstart/router.js';

const procedures = { pay: true } satisfies IdempotentProcedures<AppRouter>;

it('knows every idempotent mutation of the router, and nothing else', async () => {
  expect(await idempotentPaths(appRouter)).toEqual(Object.keys(procedures).sort());
});
