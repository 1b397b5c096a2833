import { IDENTITY_DOC, IDENTITY_REFUSED, UNAUTHORIZED_DOC } from './documented';
import { json, transfer, transferRequest } from './requests';
import type { HostileCase } from './types';

/** A transfer sent with `x-user-id: user` (exact bytes): refused by the identity rule with `message`. */
const refusedIdentity = (name: string, user: string, message: RegExp): HostileCase => ({
  name,
  documented: IDENTITY_DOC,
  request: (f) => ({ ...transferRequest(f), user }),
  expect: { ...IDENTITY_REFUSED, message },
});

/** A header value as `fetch` takes it (one character per byte): the UTF-8 bytes of `text`. */
const utf8Header = (text: string) => Buffer.from(text, 'utf8').toString('latin1');

/** The caller identity, `x-user-id`: missing, blank, or breaking the identity rule. */
export const identityCases: HostileCase[] = [
  {
    name: 'no x-user-id',
    documented: UNAUTHORIZED_DOC,
    request: (f) => ({ ...transferRequest(f), user: null }),
    expect: { status: 401, code: 'UNAUTHORIZED', message: /x-user-id/ },
  },
  {
    name: 'x-user-id of blanks',
    documented: UNAUTHORIZED_DOC,
    request: (f) => ({ ...transferRequest(f), user: '   ' }),
    expect: { status: 401, code: 'UNAUTHORIZED' },
  },
  {
    name: "x-user-id of alice's name between no-break spaces, on alice's completed key: not alice",
    documented: IDENTITY_DOC,
    request: (f) => ({
      path: 'transfers.create',
      // Latin-1 bytes A0 'alice' A0: a normalising server would trim them to alice and replay her answer.
      user: '\xa0alice\xa0',
      body: json(transfer(f, { idempotencyKey: f.paidKey, amount: 100 })),
    }),
    expect: { ...IDENTITY_REFUSED, message: /x-user-id is not well-formed UTF-8/ },
  },
  refusedIdentity(
    'x-user-id of alice between UTF-8 no-break spaces',
    utf8Header('\u00a0alice\u00a0'),
    /x-user-id starts with whitespace/,
  ),
  refusedIdentity('x-user-id with a tab inside', 'ali\tce', /control or format character U\+0009/),
  refusedIdentity(
    'x-user-id with a zero-width space inside',
    utf8Header('ali\u200bce'),
    /control or format character U\+200B/,
  ),
  refusedIdentity(
    'x-user-id with an encoded lone surrogate (ED A0 80)',
    'a\xed\xa0\x80b',
    /x-user-id is not well-formed UTF-8/,
  ),
  refusedIdentity(
    'x-user-id of 3 000 characters (a scope too long for a Postgres index row)',
    'u'.repeat(3000),
    /x-user-id is 3000 characters long/,
  ),
  {
    name: 'x-user-id of 20 000 characters',
    documented: "Node's HTTP server: headers over 16 KiB get 431",
    request: (f) => ({ ...transferRequest(f), user: 'u'.repeat(20_000) }),
    expect: { status: 431 },
  },
];
