import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import { initTRPC } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { idempotentProcedure } from '../src';
import { httpTestServer } from './helpers/httpServer';
import { newKey, sqliteTestDatabase } from './helpers/sqliteApp';

type Ctx = { user: string };

/**
 * A key reused with input that differs only in what JSON cannot say (a Map's
 * entries, a BigInt against its digits, 1e400 against null) is a key reuse
 * (422), never a replay of the first answer: the fingerprint encodes the
 * input as the transformer delivered it.
 */
describe('fingerprints over HTTP tell apart what the transformer tells apart', () => {
  it('superjson: the same key with Map {a: 1}, then Map {evil: 999999}, is a 422 and executes once', async () => {
    using database = sqliteTestDatabase();
    const t = initTRPC.context<Ctx>().create({ transformer: superjson });
    const executed: unknown[] = [];
    const idempotent = idempotentProcedure({
      procedure: t.procedure,
      store: database.store,
      scope: ({ ctx }) => ctx.user,
      transformer: superjson,
    });
    const router = t.router({
      grant: idempotent
        .input(z.object({ quotas: z.map(z.string(), z.number()) }))
        .mutation(({ input }) => {
          executed.push(input.quotas);
          return { granted: [...input.quotas.keys()] };
        }),
      store: idempotent.input(z.object({ value: z.unknown() })).mutation(({ input }) => {
        executed.push(input.value);
        return { stored: executed.length };
      }),
    });
    await using server = await httpTestServer(router);
    const client = createTRPCClient<typeof router>({
      links: [
        httpLink({
          url: server.url,
          transformer: superjson,
          headers: { 'x-user-id': 'alice' },
        }),
      ],
    });

    const idempotencyKey = newKey();
    expect(await client.grant.mutate({ idempotencyKey, quotas: new Map([['a', 1]]) })).toEqual({
      granted: ['a'],
    });
    const reused = await client.grant
      .mutate({ idempotencyKey, quotas: new Map([['evil', 999_999]]) })
      .catch((error: unknown) => error);
    expect(reused).toBeInstanceOf(TRPCClientError);
    expect((reused as TRPCClientError<typeof router>).data).toMatchObject({
      code: 'UNPROCESSABLE_CONTENT',
      httpStatus: 422,
      reason: 'IDEMPOTENCY_KEY_REUSED',
    });
    // The exact retry still replays.
    expect(await client.grant.mutate({ idempotencyKey, quotas: new Map([['a', 1]]) })).toEqual({
      granted: ['a'],
    });
    expect(executed).toEqual([new Map([['a', 1]])]);

    // Each pair: the first executes, the second with the same key is a 422.
    const pairs: [string, unknown, unknown][] = [
      ['Set {x} vs Set {y, z}', new Set(['x']), new Set(['y', 'z'])],
      ['/a/ vs /b/', /a/, /b/],
      ['5n vs "5"', 5n, '5'],
      ['a Date vs its ISO string', new Date(0), new Date(0).toISOString()],
      ['NaN vs null', Number.NaN, null],
      ['Infinity vs -Infinity', Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY],
      ['undefined vs null', undefined, null],
      ['Map vs {}', new Map([['a', 1]]), {}],
    ];
    for (const [name, first, second] of pairs) {
      const key = newKey();
      await client.store.mutate({ idempotencyKey: key, value: first });
      const error = await client.store
        .mutate({ idempotencyKey: key, value: second })
        .catch((caught: unknown) => caught);
      expect((error as TRPCClientError<typeof router>).data, name).toMatchObject({
        httpStatus: 422,
        reason: 'IDEMPOTENCY_KEY_REUSED',
      });
    }
    expect(executed).toHaveLength(1 + pairs.length);

    // superjson delivers cycles too: refused with the reason, nothing stored or executed.
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    const refused = await client.store
      .mutate({ idempotencyKey: newKey(), value: cyclic })
      .catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(TRPCClientError);
    expect((refused as TRPCClientError<typeof router>).data).toMatchObject({
      code: 'BAD_REQUEST',
      httpStatus: 400,
    });
    expect((refused as Error).message).toMatch(/holds a cycle/);
    expect(executed).toHaveLength(1 + pairs.length);
    expect(database.countRecords()).toBe(1 + pairs.length);
  });

  it('no transformer: the same key with amount 1e400, then amount null, is a 422', async () => {
    using database = sqliteTestDatabase();
    const t = initTRPC.context<Ctx>().create();
    let executions = 0;
    const idempotent = idempotentProcedure({
      procedure: t.procedure,
      store: database.store,
      scope: ({ ctx }) => ctx.user,
    });
    const router = t.router({
      record: idempotent.input(z.object({ amount: z.unknown() })).mutation(() => ++executions),
    });
    await using server = await httpTestServer(router);
    const idempotencyKey = newKey();
    const post = (body: string) =>
      fetch(`${server.url}/record`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body,
      });
    // JSON.parse reads 1e400 as Infinity, which JSON.stringify would write as null.
    const first = await post(`{"idempotencyKey":"${idempotencyKey}","amount":1e400}`);
    expect(first.status).toBe(200);
    const second = await post(`{"idempotencyKey":"${idempotencyKey}","amount":null}`);
    expect(second.status).toBe(422);
    expect((await second.json()).error.data).toMatchObject({ reason: 'IDEMPOTENCY_KEY_REUSED' });
    expect(executions).toBe(1);
  });

  it('superjson registerCustom: paying 9999.99 with the key first used for 1.00 (a Money with #private cents) is a 422, not the 1.00 replay', async () => {
    using database = sqliteTestDatabase();
    const transformer = new superjson();
    transformer.registerCustom<Money, string>(
      {
        isApplicable: (value): value is Money => value instanceof Money,
        serialize: (money) => money.toString(),
        deserialize: (text) => Money.parse(text),
      },
      'Money',
    );
    const t = initTRPC.context<Ctx>().create({ transformer });
    const paid: string[] = [];
    const idempotent = idempotentProcedure({
      procedure: t.procedure,
      store: database.store,
      scope: ({ ctx }) => ctx.user,
    });
    const router = t.router({
      pay: idempotent.input(z.object({ amount: z.instanceof(Money) })).mutation(({ input }) => {
        paid.push(input.amount.toString());
        return { paid: input.amount.toString() };
      }),
    });
    await using server = await httpTestServer(router);
    const client = createTRPCClient<typeof router>({
      links: [httpLink({ url: server.url, transformer, headers: { 'x-user-id': 'alice' } })],
    });

    const idempotencyKey = newKey();
    expect(await client.pay.mutate({ idempotencyKey, amount: Money.parse('1.00') })).toEqual({
      paid: '1.00',
    });
    const reused = await client.pay
      .mutate({ idempotencyKey, amount: Money.parse('9999.99') })
      .catch((error: unknown) => error);
    expect((reused as TRPCClientError<typeof router>).data).toMatchObject({
      httpStatus: 422,
      reason: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(await client.pay.mutate({ idempotencyKey, amount: Money.parse('1.00') })).toEqual({
      paid: '1.00',
    });
    expect(paid).toEqual(['1.00']);

    // A server-side caller with a class the transformer carries nothing of: refused, not merged.
    class Opaque {
      readonly #cents: number;
      constructor(cents: number) {
        this.#cents = cents;
      }
      get cents() {
        return this.#cents;
      }
    }
    const opaque = t.router({
      pay: idempotent.input(z.object({ amount: z.instanceof(Opaque) })).mutation(() => 'paid'),
    });
    const refused = await t
      .createCallerFactory(opaque)({ user: 'alice' })
      .pay({ idempotencyKey: newKey(), amount: new Opaque(100) })
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'BAD_REQUEST' });
    expect((refused as Error).message).toMatch(
      /instance of Opaque that the transformer carries nothing of/,
    );
  });
});

/** Money whose amount only its own methods can read (a `#private` field). */
class Money {
  readonly #cents: bigint;
  constructor(cents: bigint) {
    this.#cents = cents;
  }
  static parse(text: string) {
    return new Money(BigInt(text.replace('.', '')));
  }
  toString() {
    const digits = this.#cents.toString().padStart(3, '0');
    return `${digits.slice(0, -2)}.${digits.slice(-2)}`;
  }
}
