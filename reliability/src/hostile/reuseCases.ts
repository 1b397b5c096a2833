import { KEY_REUSED, REUSED_DOC } from './documented';
import { json, open, storesOutcome, transfer, transferRequest } from './requests';
import type { HostileCase } from './types';

/** Misuse of keys that were used before, and outcomes that are stored on purpose. */
export const reuseCases: HostileCase[] = [
  {
    name: 'key reused with another procedure',
    documented: REUSED_DOC,
    request: (f) => ({ path: 'accounts.open', body: json(open(f, { idempotencyKey: f.paidKey })) }),
    expect: { ...KEY_REUSED, message: /first used with procedure `transfers\.create`/ },
  },
  {
    name: 'key reused with another payload',
    documented: REUSED_DOC,
    request: (f) => transferRequest(f, { idempotencyKey: f.paidKey, amount: 99 }),
    expect: { ...KEY_REUSED, message: /first used with different input/ },
  },
  {
    name: 'key reused with an extra field',
    documented: 'SPEC 2.1, 2.3: the fingerprint covers the input as sent',
    request: (f) => transferRequest(f, { idempotencyKey: f.paidKey, amount: 100, note: 'refund' }),
    expect: KEY_REUSED,
  },
  {
    name: 'key reused with an extra __proto__ field',
    documented: 'SPEC 2.1, 2.3; library README: __proto__ is an ordinary key of the fingerprint',
    request: (f) => ({
      path: 'transfers.create',
      body: `{"__proto__":{"amount":100},${json(transfer(f, { idempotencyKey: f.paidKey, amount: 100 })).slice(1)}`,
    }),
    expect: KEY_REUSED,
  },
  {
    name: 'key reused by another user: a new operation for them',
    documented: 'SPEC 1.4; server README (the key is scoped to x-user-id)',
    request: (f) => ({
      ...transferRequest(f, { idempotencyKey: f.paidKey, amount: 100 }),
      user: 'mallory',
    }),
    expect: { status: 200 },
    records: storesOutcome('result', 'mallory'),
    effects: { transfers: 1 },
  },
  {
    name: 'two calls with one key and different payloads in one batch',
    documented: 'SPEC 2.3, 7.4: one executes, the other is a key reuse',
    request: (f) => {
      const first = transfer(f);
      const second = { ...first, amount: 2 };
      return {
        path: 'transfers.create,transfers.create',
        query: '?batch=1',
        body: json({ 0: first, 1: second }),
      };
    },
    expect: { status: 207, items: [{ status: 200 }, KEY_REUSED] },
    records: (_, request) => [
      {
        change: 'added',
        scope: 'alice',
        key: (JSON.parse(request.body!) as Record<string, { idempotencyKey: string }>)['0']!
          .idempotencyKey,
        outcomeKind: 'result',
      },
    ],
    effects: { transfers: 1 },
  },
  {
    name: 'unknown account: a final refusal, stored',
    documented: 'SPEC 4.2; server README (404 stored and replayed)',
    request: (f) => transferRequest(f, { toAccountId: 'acc_does_not_exist' }),
    expect: { status: 404, code: 'NOT_FOUND' },
    records: storesOutcome('error'),
  },
  {
    name: 'insufficient funds: a final refusal, stored',
    documented: 'SPEC 4.2, 9; server README (412 stored and replayed)',
    request: (f) => transferRequest(f, { amount: 1_000_000 }),
    expect: { status: 412, code: 'PRECONDITION_FAILED', message: /insufficient funds/ },
    records: storesOutcome('error'),
  },
  {
    name: 'a valid key that looks like SQL is stored literally',
    documented: 'SPEC 1.2 (any key of [A-Za-z0-9._:-]); records are looked up by parameters',
    request: (f) =>
      transferRequest(f, {
        idempotencyKey: `1-OR-1.1--DROP:TABLE.idempotency_records--${f.freshKey().slice(-6)}`,
      }),
    expect: { status: 200 },
    records: storesOutcome('result'),
    effects: { transfers: 1 },
  },
  {
    name: 'a user id that looks like SQL is a scope like any other',
    documented: 'SPEC 1.4 (scope is the user id); records are looked up by parameters',
    request: (f) => ({ ...transferRequest(f), user: "alice'; DROP TABLE accounts; --" }),
    expect: { status: 200 },
    records: storesOutcome('result', "alice'; DROP TABLE accounts; --"),
    effects: { transfers: 1 },
  },
];
