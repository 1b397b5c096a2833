import type { LedgerSnapshot } from './snapshot';
import { answeredIds, expectedBalances, unmatchedRows } from './tally';

/**
 * Everything in a ledger database that would mean a half-written or
 * double-written ledger, in words; empty when it is consistent:
 * - a balance that is not its opening balance plus incoming minus outgoing
 *   transfers, minus what payouts reserved
 * - a transfer without a completed idempotency record that answers with it
 * - a completed `transfers.create` result whose transfer does not exist
 * - a settled hold without exactly one payout of its account and amount, a
 *   payout without a settled hold, a hold still held (a payout in progress)
 * - a payout without a completed `payouts.create` record that answers with
 *   it, or such a record whose payout does not exist
 * - an idempotency record still in progress
 */
export function auditLedger(snapshot: LedgerSnapshot): string[] {
  const problems = auditPayouts(snapshot);
  const expected = expectedBalances(snapshot, snapshot.transfers);
  for (const account of snapshot.accounts) {
    if (account.balance !== expected.get(account.id)) {
      problems.push(
        `account ${account.id} has balance ${account.balance}, its transfers say ${expected.get(account.id)}`,
      );
    }
  }
  for (const record of snapshot.records) {
    if (record.state !== 'completed') {
      problems.push(
        `idempotency record for ${record.path} (scope ${record.scope}) is ${record.state}`,
      );
    }
  }
  problems.push(
    ...unmatchedRows({
      what: 'transfer',
      rows: snapshot.transfers,
      answered: answeredIds(snapshot.records, 'transfers.create'),
    }),
  );
  return problems;
}

/** The payout part of {@link auditLedger}. */
function auditPayouts(snapshot: LedgerSnapshot): string[] {
  const problems: string[] = [];
  const holds = new Map(snapshot.holds.map((hold) => [hold.id, hold]));
  for (const hold of snapshot.holds) {
    const recorded = snapshot.payouts.filter((payout) => payout.holdId === hold.id);
    if (hold.state === 'held') {
      problems.push(`hold ${hold.id} of account ${hold.accountId} is still held`);
      if (recorded.length > 0) problems.push(`hold ${hold.id} is held but has a payout`);
      continue;
    }
    const [payout, ...more] = recorded;
    if (!payout || more.length > 0) {
      problems.push(`settled hold ${hold.id} has ${recorded.length} payouts`);
    } else if (payout.accountId !== hold.accountId || payout.amount !== hold.amount) {
      problems.push(`payout ${payout.id} is not what its hold ${hold.id} reserved`);
    }
  }
  for (const payout of snapshot.payouts) {
    if (holds.get(payout.holdId)?.state !== 'settled') {
      problems.push(`payout ${payout.id} has no settled hold`);
    }
  }
  problems.push(
    ...unmatchedRows({
      what: 'payout',
      rows: snapshot.payouts,
      answered: answeredIds(snapshot.records, 'payouts.create'),
    }),
  );
  return problems;
}
