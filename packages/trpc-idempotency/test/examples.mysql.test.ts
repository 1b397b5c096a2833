import { initTRPC } from '@trpc/server';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { idempotentProcedure } from '../src';
import { loadExample } from './helpers/examples';
import { newKey } from './helpers/sqliteApp';
import { createMysqlTestDatabase, type MysqlServer, startMysql } from './stores/mariadb';

let server: MysqlServer | undefined;
let database: AsyncDisposable | undefined;

beforeAll(async () => {
  server = await startMysql();
  const created = await createMysqlTestDatabase(server.url);
  database = created;
  vi.stubEnv('DATABASE_URL', created.url);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await database?.[Symbol.asyncDispose]();
  await server?.[Symbol.asyncDispose]();
});

it('the MySQL example migrates a new database and gives a store that replays', async () => {
  const { db, store } = await loadExample('mysql.ts');
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
