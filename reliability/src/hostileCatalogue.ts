/**
 * The catalogue of hostile requests to the example server: each with the
 * answer the documentation promises (SPEC sections 1.3, 2.3, 8 and 9, the
 * server's README error table, tRPC's HTTP mapping) and the change it may
 * make to the idempotency records (most make none).
 */

/** Accounts and a completed transfer the catalogue refers to, set up first. */
export interface HostileFixture {
  /** Holds 1000 before the catalogue; pays 100 to `payee` under `paidKey`. */
  payer: string;
  payee: string;
  /** alice's completed `transfers.create` key (payer → payee, 100). */
  paidKey: string;
  /** A fresh valid key per case. */
  freshKey: () => string;
}

/** A request as any HTTP client may send it, body verbatim. */
export interface HostileRequest {
  method?: 'POST' | 'GET';
  path: string;
  query?: string;
  /** `x-user-id`; `null` sends none. Default `alice`. */
  user?: string | null;
  /** The raw body: JSON text, or deliberately not. */
  body?: string;
  headers?: Record<string, string>;
}

/** The change a case may make to `idempotency_records`. */
export interface ExpectedRecordChange {
  change: 'added' | 'changed';
  scope: string;
  key: string;
  outcomeKind: 'result' | 'error';
}

/** What the documentation promises for a case. */
export interface HostileExpectation {
  status: number;
  /** `error.data.code`. */
  code?: string;
  /** `error.data.reason`; `null` means the error must carry none. */
  reason?: string | null;
  message?: RegExp;
  /** For a batch: one expectation per item, in order. */
  items?: { status: number; code?: string; reason?: string }[];
}

export interface HostileCase {
  name: string;
  /** Where the answer is documented. */
  documented: string;
  request: (fixture: HostileFixture) => HostileRequest;
  expect: HostileExpectation;
  /** Changes to the records; default none. */
  records?: (fixture: HostileFixture, request: HostileRequest) => ExpectedRecordChange[];
  /** Ledger rows it may add; default none. */
  effects?: { accounts?: number; transfers?: number };
}

const json = (value: unknown) => JSON.stringify(value);
const transfer = (f: HostileFixture, fields: Record<string, unknown> = {}) => ({
  idempotencyKey: f.freshKey(),
  fromAccountId: f.payer,
  toAccountId: f.payee,
  amount: 1,
  ...fields,
});
const open = (f: HostileFixture, fields: Record<string, unknown> = {}) => ({
  idempotencyKey: f.freshKey(),
  owner: 'Mallory',
  initialBalance: 0,
  ...fields,
});
const keyOf = (request: HostileRequest) =>
  (JSON.parse(request.body!) as { idempotencyKey: string }).idempotencyKey;

const KEY_INVALID = {
  status: 400,
  code: 'BAD_REQUEST',
  reason: 'IDEMPOTENCY_KEY_INVALID',
} as const;
const INVALID_INPUT = { status: 400, code: 'BAD_REQUEST', reason: null } as const;
const KEY_DOC = 'SPEC 1.2–1.3, 8; server README (400 IDEMPOTENCY_KEY_INVALID)';
const IDENTITY_DOC = 'SPEC 1.4, 9; server README, the identity rule (401, nothing stored)';
const IDENTITY_REFUSED = { status: 401, code: 'UNAUTHORIZED', reason: null } as const;
/** A header value as `fetch` takes it (one character per byte): the UTF-8 bytes of `text`. */
const utf8Header = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
const INPUT_DOC = 'SPEC 4.6, 9; server README (400 invalid input, nothing stored)';

/** Key format cases: the key is bad in one way each; nothing is stored. */
const keyCases: HostileCase[] = [
  {
    name: 'key missing',
    documented: KEY_DOC,
    request: (f) => {
      const { idempotencyKey: _, ...input } = transfer(f);
      return { path: 'transfers.create', body: json(input) };
    },
    expect: { ...KEY_INVALID, message: /`idempotencyKey` is missing/ },
  },
  {
    name: 'key empty',
    documented: KEY_DOC,
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { idempotencyKey: '' })) }),
    expect: { ...KEY_INVALID, message: /`idempotencyKey` is empty/ },
  },
  {
    name: 'key null',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: null })),
    }),
    expect: { ...KEY_INVALID, message: /is missing/ },
  },
  {
    name: 'key too short (15 characters)',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: 'a'.repeat(15) })),
    }),
    expect: { ...KEY_INVALID, message: /too short \(15 characters\).*16–255/ },
  },
  {
    name: 'key too long (256 characters)',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: 'a'.repeat(256) })),
    }),
    expect: { ...KEY_INVALID, message: /too long \(256 characters\)/ },
  },
  {
    name: 'key of 100 000 characters',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: 'k'.repeat(100_000) })),
    }),
    expect: { ...KEY_INVALID, message: /too long \(100000 characters\)/ },
  },
  {
    name: 'key with spaces',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: 'my key with spaces 0001' })),
    }),
    expect: { ...KEY_INVALID, message: /characters that are not allowed/ },
  },
  {
    name: 'key with a newline and a tab',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: 'line-one-0001\nline\ttwo' })),
    }),
    expect: { ...KEY_INVALID, message: /not allowed/ },
  },
  {
    name: 'key with a NUL character',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: `${f.freshKey()}\u0000` })),
    }),
    expect: { ...KEY_INVALID, message: /not allowed/ },
  },
  {
    name: 'key with escape and DEL control characters',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: 'key-\u001b[31m-red-\u007f-0001' })),
    }),
    expect: { ...KEY_INVALID, message: /not allowed/ },
  },
  {
    name: 'key with SQL injection',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(
        transfer(f, { idempotencyKey: "x' OR '1'='1'; DROP TABLE idempotency_records; --" }),
      ),
    }),
    expect: { ...KEY_INVALID, message: /not allowed/ },
  },
  {
    name: 'key with a Unicode look-alike (Cyrillic а)',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: `\u0430${f.freshKey().slice(1)}` })),
    }),
    expect: { ...KEY_INVALID, message: /not allowed/ },
  },
  {
    name: 'key as a number',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: 1_234_567_890_123_456 })),
    }),
    expect: { ...KEY_INVALID, message: /is a number/ },
  },
  {
    name: 'key as a query operator object ({"$ne": null})',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: { $ne: null } })),
    }),
    expect: { ...KEY_INVALID, message: /is a object/ },
  },
  {
    name: 'key as an array of a valid key',
    documented: KEY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: [f.freshKey()] })),
    }),
    expect: { ...KEY_INVALID, message: /is a object/ },
  },
  {
    name: 'key only inside __proto__ (not an own field)',
    documented: KEY_DOC,
    request: (f) => {
      const { idempotencyKey, ...input } = transfer(f);
      // Written by hand: JSON.stringify would not write a __proto__ field.
      return {
        path: 'transfers.create',
        body: `{"__proto__":{"idempotencyKey":${json(idempotencyKey)}},${json(input).slice(1)}`,
      };
    },
    expect: { ...KEY_INVALID, message: /is missing/ },
  },
];

/** Input validation: the key is valid, the rest is not; nothing is stored, the key stays free. */
const inputCases: HostileCase[] = [
  {
    name: 'amount as a string',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { amount: '100' })) }),
    expect: { ...INVALID_INPUT, message: /invalid input: amount/ },
  },
  {
    name: 'amount zero',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { amount: 0 })) }),
    expect: { ...INVALID_INPUT, message: /amount/ },
  },
  {
    name: 'amount negative',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { amount: -100 })) }),
    expect: { ...INVALID_INPUT, message: /amount/ },
  },
  {
    name: 'amount fractional',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { amount: 1.5 })) }),
    expect: { ...INVALID_INPUT, message: /amount/ },
  },
  {
    name: 'amount beyond Number.MAX_SAFE_INTEGER',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { amount: 2 ** 53 })) }),
    expect: { ...INVALID_INPUT, message: /amount/ },
  },
  {
    name: 'amount 1e400 (Infinity once parsed)',
    documented: INPUT_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f)).replace('"amount":1', '"amount":1e400'),
    }),
    expect: { ...INVALID_INPUT, message: /amount/ },
  },
  {
    name: 'amount null',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { amount: null })) }),
    expect: { ...INVALID_INPUT, message: /amount/ },
  },
  {
    name: 'fromAccountId missing',
    documented: INPUT_DOC,
    request: (f) => {
      const { fromAccountId: _, ...input } = transfer(f);
      return { path: 'transfers.create', body: json(input) };
    },
    expect: { ...INVALID_INPUT, message: /fromAccountId/ },
  },
  {
    name: 'fromAccountId empty',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { fromAccountId: '' })) }),
    expect: { ...INVALID_INPUT, message: /fromAccountId/ },
  },
  {
    name: 'fromAccountId over-long (101 characters)',
    documented: INPUT_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { fromAccountId: 'a'.repeat(101) })),
    }),
    expect: { ...INVALID_INPUT, message: /fromAccountId/ },
  },
  {
    name: 'fromAccountId as an object',
    documented: INPUT_DOC,
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { fromAccountId: { $gt: '' } })),
    }),
    expect: { ...INVALID_INPUT, message: /fromAccountId/ },
  },
  {
    name: 'transfer to the same account',
    documented: 'server README (400: a transfer to the same account is input validation)',
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { toAccountId: f.payer })),
    }),
    expect: { ...INVALID_INPUT, message: /toAccountId: must be a different account/ },
  },
  {
    name: 'accounts.open with an empty owner',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'accounts.open', body: json(open(f, { owner: '' })) }),
    expect: { ...INVALID_INPUT, message: /owner/ },
  },
  {
    name: 'accounts.open with an over-long owner (101 characters)',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'accounts.open', body: json(open(f, { owner: 'o'.repeat(101) })) }),
    expect: { ...INVALID_INPUT, message: /owner/ },
  },
  {
    name: 'accounts.open with a negative initial balance',
    documented: INPUT_DOC,
    request: (f) => ({ path: 'accounts.open', body: json(open(f, { initialBalance: -1 })) }),
    expect: { ...INVALID_INPUT, message: /initialBalance/ },
  },
  {
    name: 'extra field nested deeper than 256 levels (100 000)',
    documented:
      'SPEC 2.1; library fingerprint: deeper than 256 levels is refused (400), nothing stored',
    request: (f) => ({
      path: 'transfers.create',
      body: `${json(transfer(f)).slice(0, -1)},"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
    }),
    expect: { status: 400, code: 'BAD_REQUEST', message: /nested deeper than 256 levels/ },
  },
  {
    name: 'extra field nested 300 levels in objects',
    documented:
      'SPEC 2.1; library fingerprint: deeper than 256 levels is refused (400), nothing stored',
    request: (f) => ({
      path: 'transfers.create',
      body: `${json(transfer(f)).slice(0, -1)},"x":${'{"a":'.repeat(300)}1${'}'.repeat(300)}}`,
    }),
    expect: { status: 400, code: 'BAD_REQUEST', message: /nested deeper than 256 levels/ },
  },
];

/** The body or the request itself is broken. */
const transportCases: HostileCase[] = [
  {
    name: 'no x-user-id',
    documented: 'SPEC 9; server README (401 UNAUTHORIZED, nothing stored)',
    request: (f) => ({ path: 'transfers.create', user: null, body: json(transfer(f)) }),
    expect: { status: 401, code: 'UNAUTHORIZED', message: /x-user-id/ },
  },
  {
    name: 'x-user-id of blanks',
    documented: 'SPEC 9; server README (401 UNAUTHORIZED, nothing stored)',
    request: (f) => ({ path: 'transfers.create', user: '   ', body: json(transfer(f)) }),
    expect: { status: 401, code: 'UNAUTHORIZED' },
  },
  {
    name: "x-user-id of alice's name between no-break spaces, on alice's completed key: not alice",
    documented: IDENTITY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      // Latin-1 bytes A0 'alice' A0: a normalising server would trim them to alice and replay her answer.
      user: '\xa0alice\xa0',
      body: json({
        idempotencyKey: f.paidKey,
        fromAccountId: f.payer,
        toAccountId: f.payee,
        amount: 100,
      }),
    }),
    expect: { ...IDENTITY_REFUSED, message: /x-user-id is not well-formed UTF-8/ },
  },
  {
    name: 'x-user-id of alice between UTF-8 no-break spaces',
    documented: IDENTITY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      user: utf8Header('\u00a0alice\u00a0'),
      body: json(transfer(f)),
    }),
    expect: { ...IDENTITY_REFUSED, message: /x-user-id starts with whitespace/ },
  },
  {
    name: 'x-user-id with a tab inside',
    documented: IDENTITY_DOC,
    request: (f) => ({ path: 'transfers.create', user: 'ali\tce', body: json(transfer(f)) }),
    expect: { ...IDENTITY_REFUSED, message: /control or format character U\+0009/ },
  },
  {
    name: 'x-user-id with a zero-width space inside',
    documented: IDENTITY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      user: utf8Header('ali\u200bce'),
      body: json(transfer(f)),
    }),
    expect: { ...IDENTITY_REFUSED, message: /control or format character U\+200B/ },
  },
  {
    name: 'x-user-id with an encoded lone surrogate (ED A0 80)',
    documented: IDENTITY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      user: 'a\xed\xa0\x80b',
      body: json(transfer(f)),
    }),
    expect: { ...IDENTITY_REFUSED, message: /x-user-id is not well-formed UTF-8/ },
  },
  {
    name: 'x-user-id of 3 000 characters (a scope too long for a Postgres index row)',
    documented: IDENTITY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      user: 'u'.repeat(3000),
      body: json(transfer(f)),
    }),
    expect: { ...IDENTITY_REFUSED, message: /x-user-id is 3000 characters long/ },
  },
  {
    name: 'x-user-id of 20 000 characters',
    documented: "Node's HTTP server: headers over 16 KiB get 431",
    request: (f) => ({
      path: 'transfers.create',
      user: 'u'.repeat(20_000),
      body: json(transfer(f)),
    }),
    expect: { status: 431 },
  },
  {
    name: 'malformed JSON',
    documented: 'tRPC over HTTP (400 BAD_REQUEST on an unparsable body)',
    request: () => ({ path: 'transfers.create', body: '{' }),
    expect: { status: 400, code: 'BAD_REQUEST', message: /JSON/ },
  },
  {
    name: 'truncated JSON',
    documented: 'tRPC over HTTP (400 BAD_REQUEST on an unparsable body)',
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f)).slice(0, 40) }),
    expect: { status: 400, code: 'BAD_REQUEST', message: /JSON/ },
  },
  {
    name: 'empty body',
    documented: KEY_DOC,
    request: () => ({ path: 'transfers.create', body: '' }),
    expect: { ...KEY_INVALID, message: /input is not an object/ },
  },
  {
    name: 'body is a JSON array',
    documented: KEY_DOC,
    request: (f) => ({ path: 'transfers.create', body: json([transfer(f)]) }),
    expect: { ...KEY_INVALID, message: /input is not an object/ },
  },
  {
    name: 'body is a JSON string',
    documented: KEY_DOC,
    request: () => ({ path: 'transfers.create', body: '"transfer everything"' }),
    expect: { ...KEY_INVALID, message: /input is not an object/ },
  },
  {
    name: 'body is null',
    documented: KEY_DOC,
    request: () => ({ path: 'transfers.create', body: 'null' }),
    expect: { ...KEY_INVALID, message: /input is not an object/ },
  },
  {
    name: 'content-type text/plain',
    documented: 'tRPC over HTTP (415 UNSUPPORTED_MEDIA_TYPE)',
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f)),
      headers: { 'content-type': 'text/plain' },
    }),
    expect: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  },
  {
    name: 'body over 1 MiB',
    documented: 'server (maxBodySize 1 MiB): 413 PAYLOAD_TOO_LARGE',
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { pad: 'x'.repeat(1_100_000) })),
    }),
    expect: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  },
  {
    name: 'a 900 kB payload under the 1 MiB limit (an unknown field) executes',
    documented: 'server (maxBodySize 1 MiB); SPEC 2.1 (the fingerprint covers the input as sent)',
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { pad: 'x'.repeat(900_000) })),
    }),
    expect: { status: 200 },
    records: (_, request) => [
      { change: 'added', scope: 'alice', key: keyOf(request), outcomeKind: 'result' },
    ],
    effects: { transfers: 1 },
  },
  {
    name: 'GET on a mutation',
    documented: 'SPEC 9 (mutations are POST); tRPC: 405 METHOD_NOT_SUPPORTED',
    request: (f) => ({
      method: 'GET',
      path: 'transfers.create',
      query: `?input=${encodeURIComponent(json(transfer(f)))}`,
    }),
    expect: { status: 405, code: 'METHOD_NOT_SUPPORTED' },
  },
  {
    name: 'POST to a query',
    documented: 'SPEC 9 (queries are GET); tRPC: 405 METHOD_NOT_SUPPORTED',
    request: (f) => ({ path: 'accounts.get', body: json({ id: f.payer }) }),
    expect: { status: 405, code: 'METHOD_NOT_SUPPORTED' },
  },
  {
    name: 'unknown procedure',
    documented: 'tRPC: 404 NOT_FOUND for a path with no procedure',
    request: (f) => ({ path: 'transfers.reverse', body: json(transfer(f)) }),
    expect: { status: 404, code: 'NOT_FOUND' },
  },
  {
    name: 'path outside /trpc',
    documented: 'server README (any other path answers 404)',
    request: (f) => ({ path: '../admin', body: json(transfer(f)) }),
    expect: { status: 404 },
  },
];

/** Misuse of keys that were used before, and outcomes that are stored on purpose. */
const reuseCases: HostileCase[] = [
  {
    name: 'key reused with another procedure',
    documented: 'SPEC 2.3, 8; server README (422 IDEMPOTENCY_KEY_REUSED)',
    request: (f) => ({ path: 'accounts.open', body: json(open(f, { idempotencyKey: f.paidKey })) }),
    expect: {
      status: 422,
      code: 'UNPROCESSABLE_CONTENT',
      reason: 'IDEMPOTENCY_KEY_REUSED',
      message: /first used with procedure `transfers\.create`/,
    },
  },
  {
    name: 'key reused with another payload',
    documented: 'SPEC 2.3, 8; server README (422 IDEMPOTENCY_KEY_REUSED)',
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: f.paidKey, amount: 99 })),
    }),
    expect: {
      status: 422,
      code: 'UNPROCESSABLE_CONTENT',
      reason: 'IDEMPOTENCY_KEY_REUSED',
      message: /first used with different input/,
    },
  },
  {
    name: 'key reused with an extra field',
    documented: 'SPEC 2.1, 2.3: the fingerprint covers the input as sent',
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { idempotencyKey: f.paidKey, amount: 100, note: 'refund' })),
    }),
    expect: { status: 422, code: 'UNPROCESSABLE_CONTENT', reason: 'IDEMPOTENCY_KEY_REUSED' },
  },
  {
    name: 'key reused with an extra __proto__ field',
    documented: 'SPEC 2.1, 2.3; library README: __proto__ is an ordinary key of the fingerprint',
    request: (f) => ({
      path: 'transfers.create',
      body: `{"__proto__":{"amount":100},${json(transfer(f, { idempotencyKey: f.paidKey, amount: 100 })).slice(1)}`,
    }),
    expect: { status: 422, code: 'UNPROCESSABLE_CONTENT', reason: 'IDEMPOTENCY_KEY_REUSED' },
  },
  {
    name: 'key reused by another user: a new operation for them',
    documented: 'SPEC 1.4; server README (the key is scoped to x-user-id)',
    request: (f) => ({
      path: 'transfers.create',
      user: 'mallory',
      body: json(transfer(f, { idempotencyKey: f.paidKey, amount: 100 })),
    }),
    expect: { status: 200 },
    records: (f) => [{ change: 'added', scope: 'mallory', key: f.paidKey, outcomeKind: 'result' }],
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
    expect: {
      status: 207,
      items: [
        { status: 200 },
        { status: 422, code: 'UNPROCESSABLE_CONTENT', reason: 'IDEMPOTENCY_KEY_REUSED' },
      ],
    },
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
    request: (f) => ({
      path: 'transfers.create',
      body: json(transfer(f, { toAccountId: 'acc_does_not_exist' })),
    }),
    expect: { status: 404, code: 'NOT_FOUND' },
    records: (_, request) => [
      { change: 'added', scope: 'alice', key: keyOf(request), outcomeKind: 'error' },
    ],
  },
  {
    name: 'insufficient funds: a final refusal, stored',
    documented: 'SPEC 4.2, 9; server README (412 stored and replayed)',
    request: (f) => ({ path: 'transfers.create', body: json(transfer(f, { amount: 1_000_000 })) }),
    expect: { status: 412, code: 'PRECONDITION_FAILED', message: /insufficient funds/ },
    records: (_, request) => [
      { change: 'added', scope: 'alice', key: keyOf(request), outcomeKind: 'error' },
    ],
  },
  {
    name: 'a valid key that looks like SQL is stored literally',
    documented: 'SPEC 1.2 (any key of [A-Za-z0-9._:-]); records are looked up by parameters',
    request: (f) => ({
      path: 'transfers.create',
      body: json(
        transfer(f, {
          idempotencyKey: `1-OR-1.1--DROP:TABLE.idempotency_records--${f.freshKey().slice(-6)}`,
        }),
      ),
    }),
    expect: { status: 200 },
    records: (_, request) => [
      { change: 'added', scope: 'alice', key: keyOf(request), outcomeKind: 'result' },
    ],
    effects: { transfers: 1 },
  },
  {
    name: 'a user id that looks like SQL is a scope like any other',
    documented: 'SPEC 1.4 (scope is the user id); records are looked up by parameters',
    request: (f) => ({
      path: 'transfers.create',
      user: "alice'; DROP TABLE accounts; --",
      body: json(transfer(f)),
    }),
    expect: { status: 200 },
    records: (_, request) => [
      {
        change: 'added',
        scope: "alice'; DROP TABLE accounts; --",
        key: keyOf(request),
        outcomeKind: 'result',
      },
    ],
    effects: { transfers: 1 },
  },
];

/** Every case, in the order they run. */
export const hostileCatalogue: readonly HostileCase[] = [
  ...keyCases,
  ...inputCases,
  ...transportCases,
  ...reuseCases,
];
