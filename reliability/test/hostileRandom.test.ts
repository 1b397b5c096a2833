import { seededRandom, startLedgerServer } from '@ledger/testkit';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { send } from '../src/http';
import { openAccounts } from '../src/ledgerWorkload';
import { byStrength, report, seedFor } from '../src/strength';

/**
 * Seeded random hostile payloads (fast-check): each field valid, missing, of
 * the wrong type, a random string (lone surrogates, control characters) or
 * any JSON value, plus stray `__proto__` / `constructor` / `toJSON` fields.
 * Every answer must be a documented one, never a 5xx; a record appears exactly
 * when the answer is a stored outcome (a success, 404 or 412), never for a 400.
 */
describe('hostile input: random payloads (seeded property test)', () => {
  const runs = byStrength({ small: 150, full: 3000 });

  it(`answers ${runs} random payloads as documented, storing a record only for stored outcomes`, {
    timeout: byStrength({ small: 60_000, full: 600_000 }),
  }, async () => {
    const seed = seedFor('hostile-fuzz');
    await using server = await startLedgerServer({});
    const accounts = await openAccounts({
      url: () => server.url,
      count: 2,
      balance: 1_000_000,
      random: seededRandom(seed),
    });
    const db = new Database(server.databaseFile, { readonly: true });
    const countRecords = db.prepare('SELECT count(*) AS n FROM idempotency_records');
    const findRecord = db.prepare(
      "SELECT state, outcome_kind AS outcomeKind FROM idempotency_records WHERE scope = 'alice' AND key = ?",
    );
    const statuses: Record<string, number> = {};
    let fresh = 0;

    const absent = fc.constant(undefined);
    const junk = fc.oneof(fc.jsonValue(), fc.string({ unit: 'binary', maxLength: 300 }));
    const field = (valid: fc.Arbitrary<unknown>) =>
      fc.oneof(
        { weight: 4, arbitrary: valid },
        { weight: 1, arbitrary: absent },
        { weight: 2, arbitrary: junk },
      );
    const key = fc.oneof(
      { weight: 4, arbitrary: fc.constant('fresh') },
      { weight: 1, arbitrary: absent },
      { weight: 2, arbitrary: junk },
    );
    const strays = fc.dictionary(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toJSON', 'then', 'valueOf'),
      fc.jsonValue(),
      { maxKeys: 3 },
    );
    const transferInput = fc.record({
      path: fc.constant('transfers.create'),
      key,
      fields: fc.record({
        fromAccountId: field(fc.constantFrom(...accounts, 'acc_unknown')),
        toAccountId: field(fc.constantFrom(...accounts)),
        amount: field(fc.oneof(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 2_000_000 }))),
      }),
      strays,
    });
    const openInput = fc.record({
      path: fc.constant('accounts.open'),
      key,
      fields: fc.record({
        owner: field(fc.string({ minLength: 1, maxLength: 100 })),
        initialBalance: field(fc.integer({ min: 0, max: 1000 })),
      }),
      strays,
    });

    try {
      await fc.assert(
        fc.asyncProperty(fc.oneof(transferInput, openInput), async (generated) => {
          const input: Record<string, unknown> = {};
          for (const [name, value] of Object.entries(generated.fields)) {
            if (value !== undefined) input[name] = value;
          }
          let idempotencyKey: unknown = generated.key;
          if (generated.key === 'fresh')
            idempotencyKey = `fuzz-${seed}-${(fresh++).toString().padStart(6, '0')}`;
          if (idempotencyKey !== undefined) input['idempotencyKey'] = idempotencyKey;
          // Own fields named __proto__ etc.: defined, not assigned, so they reach the wire.
          for (const [name, value] of Object.entries(generated.strays)) {
            Object.defineProperty(input, name, {
              value,
              enumerable: true,
              configurable: true,
              writable: true,
            });
          }
          const before = (countRecords.get() as { n: number }).n;
          const response = await send({
            url: server.url,
            path: generated.path,
            user: 'alice',
            body: JSON.stringify(input),
          });
          statuses[response.status] = (statuses[response.status] ?? 0) + 1;
          expect([200, 400, 404, 412]).toContain(response.status);
          const added = (countRecords.get() as { n: number }).n - before;
          if (response.status === 400) {
            expect(added).toBe(0);
          } else {
            expect(added).toBe(1);
            expect(findRecord.get(idempotencyKey)).toEqual({
              state: 'completed',
              outcomeKind: response.status === 200 ? 'result' : 'error',
            });
          }
        }),
        { seed, numRuns: runs },
      );
    } finally {
      db.close();
    }
    expect((await send({ url: server.url, path: 'health', method: 'GET' })).status).toBe(200);
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
    report('hostile-fuzz', { seed, runs, statuses });
  });
});
