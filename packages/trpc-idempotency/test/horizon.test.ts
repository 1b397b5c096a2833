/**
 * The link learns the server's horizon (SPEC 7.10) from real HTTP responses:
 * the `Idempotency-Horizon-Ms` header of a result or an error, and an
 * error's `data.horizonMs`. The server here sets them by hand, standing in
 * for one with tombstones (README.md#retention-on-the-client).
 */
import { createTRPCClient, httpLink } from '@trpc/client';
import { TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { afterEach, expect, it } from 'vitest';
import { z } from 'zod';
import { idempotencyLink } from '../src/client';
import { learnedServerHorizon } from '../src/shared/retention';
import { urlOf } from './helpers/examples';
import { sqliteTestDatabase } from './helpers/sqliteApp';
import { t, userIdempotent } from './helpers/trpc';

afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('trpc-idempotency.retention')];
});

async function serverTelling(horizon: { header?: string }) {
  const database = sqliteTestDatabase();
  const idempotent = userIdempotent({ store: database.store });
  const router = t.router({
    pay: idempotent.input(z.object({ fail: z.boolean() })).mutation(({ input }) => {
      if (input.fail) throw new TRPCError({ code: 'PRECONDITION_FAILED', message: 'no' });
      return 'paid';
    }),
  });
  const server = createHTTPServer({
    router,
    createContext: ({ req }) => ({ user: String(req.headers['x-user-id'] ?? 'alice') }),
    responseMeta: () => ({
      headers: horizon.header ? { 'idempotency-horizon-ms': horizon.header } : {},
    }),
  });
  server.listen(0, '127.0.0.1');
  const url = await urlOf(server, '');
  const client = createTRPCClient<typeof router>({
    links: [idempotencyLink({ procedures: { pay: true } }), httpLink({ url })],
  });
  return {
    client,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      database[Symbol.dispose]();
    },
  };
}

it('from the header of a result', async () => {
  await using server = await serverTelling({ header: '2592000000' });
  expect(learnedServerHorizon()).toBeUndefined();
  await server.client.pay.mutate({ fail: false });
  expect(learnedServerHorizon()).toBe(2_592_000_000);
});

it('from the header of an error', async () => {
  await using server = await serverTelling({ header: '604800000' });
  await expect(server.client.pay.mutate({ fail: true })).rejects.toThrow('no');
  expect(learnedServerHorizon()).toBe(604_800_000);
});

it('nothing from a server that does not tell, or tells nonsense', async () => {
  await using silent = await serverTelling({});
  await silent.client.pay.mutate({ fail: false });
  expect(learnedServerHorizon()).toBeUndefined();
  await using nonsense = await serverTelling({ header: 'thirty days' });
  await nonsense.client.pay.mutate({ fail: false });
  expect(learnedServerHorizon()).toBeUndefined();
});
