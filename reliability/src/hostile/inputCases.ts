import { INPUT_DOC, INVALID_INPUT } from './documented';
import { json, open, transfer, transferRequest } from './requests';
import type { HostileCase, HostileFixture, HostileRequest } from './types';

const TOO_DEEP_DOC =
  'SPEC 2.1; library fingerprint: deeper than 256 levels is refused (400), nothing stored';

/** A request refused as invalid input, with `message`. */
const invalid = (
  name: string,
  request: (f: HostileFixture) => HostileRequest,
  message: RegExp,
  documented = INPUT_DOC,
): HostileCase => ({ name, documented, request, expect: { ...INVALID_INPUT, message } });

/** A transfer with `fields` over a valid input: refused as invalid input. */
const badTransfer = (name: string, fields: Record<string, unknown>, message: RegExp) =>
  invalid(name, (f) => transferRequest(f, fields), message);

/** An account opening with `fields` over a valid input: refused as invalid input. */
const badOpening = (name: string, fields: Record<string, unknown>, message: RegExp) =>
  invalid(name, (f) => ({ path: 'accounts.open', body: json(open(f, fields)) }), message);

/** A transfer with an extra field `x` nested too deep for the fingerprint. */
const tooDeep = (name: string, x: string): HostileCase => ({
  name,
  documented: TOO_DEEP_DOC,
  request: (f) => ({
    path: 'transfers.create',
    body: `${json(transfer(f)).slice(0, -1)},"x":${x}}`,
  }),
  expect: { status: 400, code: 'BAD_REQUEST', message: /nested deeper than 256 levels/ },
});

/** Input validation: the key is valid, the rest is not; nothing is stored, the key stays free. */
export const inputCases: HostileCase[] = [
  badTransfer('amount as a string', { amount: '100' }, /invalid input: amount/),
  badTransfer('amount zero', { amount: 0 }, /amount/),
  badTransfer('amount negative', { amount: -100 }, /amount/),
  badTransfer('amount fractional', { amount: 1.5 }, /amount/),
  badTransfer('amount beyond Number.MAX_SAFE_INTEGER', { amount: 2 ** 53 }, /amount/),
  invalid(
    'amount 1e400 (Infinity once parsed)',
    (f) => ({
      path: 'transfers.create',
      body: json(transfer(f)).replace('"amount":1', '"amount":1e400'),
    }),
    /amount/,
  ),
  badTransfer('amount null', { amount: null }, /amount/),
  invalid(
    'fromAccountId missing',
    (f) => {
      const { fromAccountId: _, ...input } = transfer(f);
      return { path: 'transfers.create', body: json(input) };
    },
    /fromAccountId/,
  ),
  badTransfer('fromAccountId empty', { fromAccountId: '' }, /fromAccountId/),
  badTransfer(
    'fromAccountId over-long (101 characters)',
    { fromAccountId: 'a'.repeat(101) },
    /fromAccountId/,
  ),
  badTransfer('fromAccountId as an object', { fromAccountId: { $gt: '' } }, /fromAccountId/),
  invalid(
    'transfer to the same account',
    (f) => transferRequest(f, { toAccountId: f.payer }),
    /toAccountId: must be a different account/,
    'server README (400: a transfer to the same account is input validation)',
  ),
  badOpening('accounts.open with an empty owner', { owner: '' }, /owner/),
  badOpening(
    'accounts.open with an over-long owner (101 characters)',
    { owner: 'o'.repeat(101) },
    /owner/,
  ),
  badOpening(
    'accounts.open with a negative initial balance',
    { initialBalance: -1 },
    /initialBalance/,
  ),
  tooDeep(
    'extra field nested deeper than 256 levels (100 000)',
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
  ),
  tooDeep('extra field nested 300 levels in objects', `${'{"a":'.repeat(300)}1${'}'.repeat(300)}`),
];
