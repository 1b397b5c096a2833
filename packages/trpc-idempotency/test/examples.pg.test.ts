import { initTRPC } from '@trpc/server';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { idempotentProcedure } from '../src';
import { loadExample } from './helpers/examples';
import { newKey } from './helpers/sqliteApp';
import { createTestDatabase, type PostgresServer, startPostgres } from './stores/postgres';

let server: PostgresServer | undefined;
let database: AsyncDisposable | undefined;

beforeAll(async () => {
  server = await startPostgres();
  const created = await createTestDatabase(server.url);
  database = created;
  vi.stubEnv('DATABASE_URL', created.url);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await database?.[Symbol.asyncDispose]();
  await server?.[Symbol.asyncDispose]();
});

/** A procedure on the example's store: its second call with a key replays the first. */
async function expectReplays(store: Parameters<typeof idempotentProcedure>[0]['store']) {
  const t = initTRPC.context<{ userId: string }>().create();
  let executions = 0;
  const pay = idempotentProcedure({ procedure: t.procedure, store, scope: ({ ctx }) => ctx.userId })
    .input(z.object({ amount: z.number() }))
    .mutation(({ input }) => ({ execution: ++executions, amount: input.amount }));
  const caller = t.createCallerFactory(t.router({ pay }))({ userId: 'alice' });
  const idempotencyKey = newKey();
  expect(await caller.pay({ idempotencyKey, amount: 3 })).toEqual({ execution: 1, amount: 3 });
  expect(await caller.pay({ idempotencyKey, amount: 3 })).toEqual({ execution: 1, amount: 3 });
}

it('the Postgres example migrates a new database and gives a store that replays', async () => {
  const { db, store } = await loadExample('postgres.ts');
  try {
    const t = initTRPC.context<{ userId: string }>().create();
    let executions = 0;
    const pay = idempotentProcedure({
      procedure: t.procedure,
      store,
      scope: ({ ctx }) => ctx.userId,
    })
      .input(z.object({ amount: z.number() }))
      .mutation(({ input }) => ({ execution: ++executions, amount: input.amount }));
    const caller = t.createCallerFactory(t.router({ pay }))({ userId: 'alice' });
    const idempotencyKey = newKey();
    expect(await caller.pay({ idempotencyKey, amount: 3 })).toEqual({ execution: 1, amount: 3 });
    expect(await caller.pay({ idempotencyKey, amount: 3 })).toEqual({ execution: 1, amount: 3 });
    expect(await store.purge({ now: Date.now() + 48 * 3600 * 1000 })).toBe(1);
  } finally {
    await db.$client.end();
  }
});

it.each([
  ['postgres.js', 'drivers/postgresJs.ts'],
  ['PGlite', 'drivers/pglite.ts'],
])(
  'the %s example migrates a new database and gives a store that replays',
  // PGlite starts Postgres in WebAssembly: seconds on a quiet machine, more on a busy one.
  { timeout: 90_000 },
  async (_driver, file) => {
    const { db, store } = await loadExample(file);
    try {
      await expectReplays(store);
    } finally {
      await db.$client.end?.();
      await db.$client.close?.();
    }
  },
);
