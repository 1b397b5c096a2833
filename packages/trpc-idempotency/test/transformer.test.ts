import { createTRPCClient, httpLink } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { idempotentProcedure } from '../src';
import { httpTestServer } from './helpers/httpServer';
import { newKey, sqliteTestDatabase } from './helpers/sqliteApp';

type Ctx = { user: string };
const at = new Date('2026-11-26T12:00:00.000Z');

/** `stamp` returns a Date, a Set and a BigInt: what JSON alone would turn into other types. */
function stampRouter(
  database: ReturnType<typeof sqliteTestDatabase>,
  opts: { transformer?: Parameters<typeof idempotentProcedure>[0]['transformer'] } = {},
) {
  const t = initTRPC.context<Ctx>().create({ transformer: superjson });
  let executions = 0;
  const idempotent = idempotentProcedure({
    procedure: t.procedure,
    store: database.store,
    scope: ({ ctx }) => ctx.user,
    ...opts,
  });
  const router = t.router({
    stamp: idempotent.input(z.object({ note: z.string() })).mutation(({ input }) => {
      executions++;
      return { at, tags: new Set(['a']), cents: 10n ** 20n, note: input.note };
    }),
  });
  return { router, executions: () => executions };
}

function clientFor(url: string) {
  return createTRPCClient<ReturnType<typeof stampRouter>['router']>({
    links: [httpLink({ url, transformer: superjson, headers: { 'x-user-id': 'alice' } })],
  });
}

describe('the transformer of the tRPC instance', () => {
  it('is used without a transformer option: first response and replay keep a Date a Date over HTTP', async () => {
    using database = sqliteTestDatabase();
    const app = stampRouter(database);
    await using server = await httpTestServer(app.router);
    const client = clientFor(server.url);
    const idempotencyKey = newKey();

    const first = await client.stamp.mutate({ idempotencyKey, note: 'n' });
    expect(first.at).toBeInstanceOf(Date);
    expect(first.at.getTime()).toBe(at.getTime());
    expect(first.tags).toEqual(new Set(['a']));
    expect(first.cents).toBe(10n ** 20n);

    const replay = await client.stamp.mutate({ idempotencyKey, note: 'n' });
    expect(replay.at).toBeInstanceOf(Date);
    expect(replay).toEqual(first);
    expect(app.executions()).toBe(1);
  });

  it('is overridden by an explicit transformer option, which stores outcomes its way', async () => {
    using database = sqliteTestDatabase();
    const serialized: unknown[] = [];
    const app = stampRouter(database, {
      transformer: {
        serialize: (value) => {
          serialized.push(value);
          return superjson.serialize(value);
        },
        deserialize: (value) => superjson.deserialize(value as never),
      },
    });
    await using server = await httpTestServer(app.router);
    const idempotencyKey = newKey();
    const first = await clientFor(server.url).stamp.mutate({ idempotencyKey, note: 'n' });
    expect(first.at).toBeInstanceOf(Date);
    expect(serialized).toHaveLength(1);
    const record = await database.store.find({ scope: 'alice', key: idempotencyKey, now: 0 });
    expect(JSON.parse(record?.outcome?.body ?? 'null')).toEqual(superjson.serialize(serialized[0]));
  });

  it('takes a combined { input, output } transformer as initTRPC does', async () => {
    using database = sqliteTestDatabase();
    const app = stampRouter(database, {
      transformer: { input: superjson, output: superjson },
    });
    await using server = await httpTestServer(app.router);
    const idempotencyKey = newKey();
    const client = clientFor(server.url);
    await client.stamp.mutate({ idempotencyKey, note: 'n' });
    expect((await client.stamp.mutate({ idempotencyKey, note: 'n' })).at).toBeInstanceOf(Date);
  });

  it('refuses at startup, naming the option, when the procedure carries no tRPC config', () => {
    using database = sqliteTestDatabase();
    // A builder whose definition has no root config (as one a plugin assembles might).
    const t = initTRPC.context<Ctx>().create({ transformer: superjson });
    const bare = { ...t.procedure, _def: { ...t.procedure._def, config: undefined } };
    expect(() =>
      idempotentProcedure({ procedure: bare, store: database.store, scope: ({ ctx }) => ctx.user }),
    ).toThrow(/pass the `transformer` option/);
    expect(() =>
      idempotentProcedure({
        procedure: bare,
        store: database.store,
        scope: ({ ctx }) => ctx.user,
        transformer: superjson,
      }),
    ).not.toThrow();
  });
});
