import type { ExpectedRecordChange, HostileFixture, HostileRequest } from './types';

export const json = (value: unknown) => JSON.stringify(value);

/** A valid `transfers.create` input (payer → payee, 1, a fresh key), with `fields` over it. */
export const transfer = (f: HostileFixture, fields: Record<string, unknown> = {}) => ({
  idempotencyKey: f.freshKey(),
  fromAccountId: f.payer,
  toAccountId: f.payee,
  amount: 1,
  ...fields,
});

/** A valid `accounts.open` input (Mallory, 0, a fresh key), with `fields` over it. */
export const open = (f: HostileFixture, fields: Record<string, unknown> = {}) => ({
  idempotencyKey: f.freshKey(),
  owner: 'Mallory',
  initialBalance: 0,
  ...fields,
});

/** `transfers.create` with {@link transfer}'s input and `fields` over it. */
export const transferRequest = (
  f: HostileFixture,
  fields: Record<string, unknown> = {},
): HostileRequest => ({ path: 'transfers.create', body: json(transfer(f, fields)) });

/** The key a request's body sends. */
export const keyOf = (request: HostileRequest) =>
  (JSON.parse(request.body!) as { idempotencyKey: string }).idempotencyKey;

/** The request's own key gets a completed record of `outcomeKind`, in `scope`. */
export const storesOutcome =
  (outcomeKind: 'result' | 'error', scope = 'alice') =>
  (_: HostileFixture, request: HostileRequest): ExpectedRecordChange[] => [
    { change: 'added', scope, key: keyOf(request), outcomeKind },
  ];
