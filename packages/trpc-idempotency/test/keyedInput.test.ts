import { describe, expect } from 'vitest';
import { z } from 'zod';
import { z as z3 } from 'zod/v3';
import { it, newKey, type SqliteTestDatabase } from './helpers/sqliteApp';
import { callerOf, userIdempotent } from './helpers/trpc';

function builder(database: SqliteTestDatabase) {
  return userIdempotent({ store: database.store });
}

describe('an input the key cannot join is refused when .input() is called', () => {
  it('refuses zod 4 strict objects (their type cannot tell), naming what to use instead', ({
    database,
  }) => {
    const idempotent = builder(database);
    for (const strict of [
      z.strictObject({ a: z.string() }),
      z.object({ a: z.string() }).strict(),
    ]) {
      expect(() => idempotent.input(strict)).toThrow(
        'idempotentProcedure: .input() got a schema that `idempotencyKey` cannot join (a strict object schema rejects the `idempotencyKey` field, and every request of an idempotent procedure is an object carrying it): use z.object({ … }) (it strips unknown keys), or declare `idempotencyKey: z.string()` in the strict object',
      );
    }
    // Also as a later .input() of the chain: every input parser sees the whole input.
    const keyed = idempotent.input(z.object({ a: z.string() }));
    expect(() => keyed.input(z.strictObject({ b: z.string() }))).toThrow(/strict object/);
  });

  it('refuses non-object schemas, also behind wrappers the type system sees through', ({
    database,
  }) => {
    const idempotent = builder(database) as unknown as { input(parser: unknown): unknown };
    for (const [schema, kind] of [
      [z.string(), 'a string schema'],
      [z.array(z.object({ a: z.string() })), 'an array schema'],
      [z.string().optional(), 'a string schema'],
      [z.union([z.string(), z.number()]), 'a string schema'],
      [z.string().transform((s) => ({ s })), 'a string schema'],
      [z3.string(), 'a string schema'],
      [z3.object({ a: z3.string() }).strict(), 'a strict object schema'],
    ] as const) {
      expect(() => idempotent.input(schema), kind).toThrow(
        new RegExp(`\\(${kind} (cannot carry|rejects) the \`idempotencyKey\` field`),
      );
    }
    expect(() => idempotent.input(z.string())).toThrow(
      /put your input in an object schema, e\.g\. z\.object\(\{ items: z\.array\(…\) \}\)/,
    );
  });

  it('accepts what the key can join, and those procedures run', async ({ database }) => {
    const idempotent = builder(database);
    const caller = callerOf({
      plain: idempotent.input(z.object({ a: z.string() })).mutation(({ input }) => input),
      loose: idempotent.input(z.looseObject({ a: z.string() })).mutation(({ input }) => input),
      declared: idempotent
        .input(z.strictObject({ a: z.string(), idempotencyKey: z.string() }))
        .mutation(({ input }) => input),
      union: idempotent
        .input(z.union([z.object({ a: z.string() }), z.object({ b: z.number() })]))
        .mutation(({ input }) => input),
      transformed: idempotent
        .input(z.object({ a: z.string() }).transform((v) => ({ ...v, upper: v.a.toUpperCase() })))
        .mutation(({ input }) => input),
      zod3: idempotent.input(z3.object({ a: z3.string() })).mutation(({ input }) => input),
    });
    for (const path of ['plain', 'loose', 'declared', 'union', 'zod3'] as const) {
      const idempotencyKey = newKey();
      expect(await caller[path]({ idempotencyKey, a: 'x' } as never)).toMatchObject({
        idempotencyKey,
        a: 'x',
      });
    }
    const idempotencyKey = newKey();
    expect(await caller.transformed({ idempotencyKey, a: 'x' })).toEqual({
      idempotencyKey,
      a: 'x',
      upper: 'X',
    });
  });
});
