import { describe, expect, it } from 'vitest';
import {
  type Answer,
  auditLedger,
  checkTransferRun,
  type LedgerSnapshot,
  type ObservedCall,
  type TransferInput,
} from '../src';

type Record = LedgerSnapshot['records'][number];

/** A completed record of `path` answering `body`. */
function completed(key: string, path: string, body: unknown, kind: 'result' | 'error' = 'result') {
  const record: Record = {
    scope: 'alice',
    key,
    path,
    attempt: 1,
    state: 'completed',
    outcomeKind: kind,
    response: JSON.stringify(body),
  };
  return record;
}

const t1 = { id: 'tr_1', fromAccountId: 'acc_a', toAccountId: 'acc_b', amount: 10 };
const t2 = { id: 'tr_2', fromAccountId: 'acc_b', toAccountId: 'acc_a', amount: 5 };

/** Two accounts of 100, two transfers, a settled payout of 20 from acc_a: consistent. */
function consistent(): LedgerSnapshot {
  return {
    accounts: [
      { id: 'acc_a', owner: 'A', balance: 75, openingBalance: 100 },
      { id: 'acc_b', owner: 'B', balance: 105, openingBalance: 100 },
    ],
    transfers: [t1, t2],
    holds: [{ id: 'ph_1', holdKey: 'h1', accountId: 'acc_a', amount: 20, state: 'settled' }],
    payouts: [
      { id: 'po_1', holdId: 'ph_1', accountId: 'acc_a', amount: 20, gatewayPayoutId: 'gp_1' },
    ],
    records: [
      completed('k1', 'transfers.create', t1),
      completed('k2', 'transfers.create', t2),
      completed('k3', 'payouts.create', { id: 'po_1' }),
    ],
  };
}

/** What a client saw of a call that ended with `final`. */
function observed(key: string, input: TransferInput, final: Answer): ObservedCall<TransferInput> {
  return {
    user: 'alice',
    key,
    path: 'transfers.create',
    input,
    record: {
      final,
      attempts: 1,
      successes: final.kind === 'result' ? [final.body] : [],
      retriedFor: {},
    },
  };
}

const succeeded = (key: string, transfer: typeof t1) => {
  const { id: _, ...input } = transfer;
  return observed(key, input, { status: 200, kind: 'result', body: JSON.stringify(transfer) });
};

describe('auditLedger', () => {
  it('finds nothing in a consistent ledger', () => {
    expect(auditLedger(consistent())).toEqual([]);
  });

  it.each([
    {
      finds: 'a wrong balance, a transfer without its record, a record without its transfer',
      broken: (snapshot: LedgerSnapshot) => {
        snapshot.accounts[1]!.balance = 110;
        snapshot.records[1] = completed('k9', 'transfers.create', { ...t2, id: 'tr_9' });
      },
      problems: [
        'account acc_b has balance 110, its transfers say 105',
        'transfer tr_2 has no completed idempotency record',
        'idempotency record answers with transfer tr_9, which does not exist',
      ],
    },
    {
      finds: 'a hold still held, a settled hold without its payout, a record in progress',
      broken: (snapshot: LedgerSnapshot) => {
        snapshot.holds.push(
          { id: 'ph_2', holdKey: 'h2', accountId: 'acc_b', amount: 1, state: 'held' },
          { id: 'ph_3', holdKey: 'h3', accountId: 'acc_b', amount: 2, state: 'settled' },
        );
        snapshot.accounts[1]!.balance = 102;
        snapshot.records.push({ ...completed('k4', 'payouts.create', null), state: 'in_progress' });
      },
      problems: [
        'hold ph_2 of account acc_b is still held',
        'settled hold ph_3 has 0 payouts',
        'idempotency record for payouts.create (scope alice) is in_progress',
      ],
    },
    {
      finds: 'a payout that is not what its hold reserved, and one without a record',
      broken: (snapshot: LedgerSnapshot) => {
        snapshot.payouts[0]!.amount = 25;
        snapshot.records.pop();
      },
      problems: [
        'payout po_1 is not what its hold ph_1 reserved',
        'payout po_1 has no completed idempotency record',
      ],
    },
  ])('finds $finds', ({ broken, problems }) => {
    const snapshot = consistent();
    broken(snapshot);
    expect(auditLedger(snapshot)).toEqual(problems);
  });
});

describe('checkTransferRun', () => {
  const openingTotal = 200;

  it('finds nothing when the calls and the database agree', () => {
    const transfers = [succeeded('k1', t1), succeeded('k2', t2)];
    expect(checkTransferRun({ snapshot: consistent(), openingTotal, transfers })).toEqual([]);
  });

  it('finds a call answered with a transfer that does not exist, and a transfer no call got', () => {
    const transfers = [succeeded('k1', t1), succeeded('k6', { ...t1, id: 'tr_6' })];
    expect(checkTransferRun({ snapshot: consistent(), openingTotal, transfers })).toEqual([
      'alice/k6 succeeded with transfer tr_6, which does not exist',
      'alice/k6 succeeded but its record is missing',
      "account acc_a holds 75, the clients' transfers say 60",
      "account acc_b holds 105, the clients' transfers say 120",
    ]);
  });

  it('finds money not conserved, two answers to one call, and a stored response that differs', () => {
    const snapshot = consistent();
    snapshot.accounts[0]!.balance = 80;
    const first = succeeded('k1', t1);
    first.record.successes.push(JSON.stringify({ ...t1, id: 'tr_other' }));
    const second = succeeded('k2', t2);
    second.record.final = { ...second.record.final, body: JSON.stringify({ ...t2, extra: 1 }) };
    expect(checkTransferRun({ snapshot, openingTotal, transfers: [first, second] })).toEqual([
      'audit: account acc_a has balance 80, its transfers say 75',
      'money not conserved: balances and payout holds add up to 205, 200 was opened',
      `alice/k1 got 2 different successful responses: ${JSON.stringify(t1)} | ${JSON.stringify({ ...t1, id: 'tr_other' })}`,
      'alice/k2: the stored response differs from the one the client got',
      "account acc_a holds 80, the clients' transfers say 75",
    ]);
  });

  it('finds a transfer that is not what its call asked for, and a refusal nobody stored', () => {
    const asked = succeeded('k1', t1);
    asked.input = { ...asked.input, amount: 11 };
    const refused = observed(
      'k5',
      { fromAccountId: 'acc_a', toAccountId: 'acc_b', amount: 1000 },
      { status: 412, kind: 'error', code: 'PRECONDITION_FAILED', body: '{}' },
    );
    const transfers = [asked, succeeded('k2', t2), refused];
    expect(checkTransferRun({ snapshot: consistent(), openingTotal, transfers })).toEqual([
      'alice/k1: transfer tr_1 is not what the call asked for',
      'alice/k5 was refused (PRECONDITION_FAILED) but no refusal is stored',
    ]);
  });

  it('counts a transfer named by two records', () => {
    const snapshot = consistent();
    snapshot.records.push(completed('k7', 'transfers.create', t1));
    const transfers = [succeeded('k1', t1), succeeded('k2', t2)];
    expect(checkTransferRun({ snapshot, openingTotal, transfers })).toEqual([
      'transfer tr_1 is named by 2 completed records',
    ]);
  });
});
