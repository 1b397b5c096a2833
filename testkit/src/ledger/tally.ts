import type { LedgerSnapshot } from './snapshot';

/** A transfer's effect on balances: what the checks add up. */
export interface Movement {
  fromAccountId: string;
  toAccountId: string;
  amount: number;
}

/** Each account's balance after `movements`, from `opening` (a copy; accounts absent start at 0). */
function balancesAfter(
  opening: ReadonlyMap<string, number>,
  movements: Iterable<Movement>,
): Map<string, number> {
  const balances = new Map(opening);
  for (const { fromAccountId, toAccountId, amount } of movements) {
    balances.set(fromAccountId, (balances.get(fromAccountId) ?? 0) - amount);
    balances.set(toAccountId, (balances.get(toAccountId) ?? 0) + amount);
  }
  return balances;
}

/**
 * What each account of `snapshot` must hold: its opening balance, moved by
 * `transfers`, less what payouts took out of it (their holds).
 */
export function expectedBalances(
  snapshot: Pick<LedgerSnapshot, 'accounts' | 'holds'>,
  transfers: Iterable<Movement>,
): Map<string, number> {
  const opening = new Map(snapshot.accounts.map((account) => [account.id, account.openingBalance]));
  const balances = balancesAfter(opening, transfers);
  for (const hold of snapshot.holds) {
    balances.set(hold.accountId, (balances.get(hold.accountId) ?? 0) - hold.amount);
  }
  return balances;
}

/**
 * The money that must equal what was opened: the balances, plus what payouts
 * took out of them (held or paid out).
 */
export function moneyInLedger(snapshot: Pick<LedgerSnapshot, 'accounts' | 'holds'>): number {
  return (
    snapshot.accounts.reduce((sum, account) => sum + account.balance, 0) +
    snapshot.holds.reduce((sum, hold) => sum + hold.amount, 0)
  );
}

/** The ids that completed results of `path` answered with, one per record. */
export function answeredIds(records: LedgerSnapshot['records'], path: string): string[] {
  return records
    .filter(
      (record) =>
        record.state === 'completed' && record.path === path && record.outcomeKind === 'result',
    )
    .map((record) => (JSON.parse(record.response!) as { id: string }).id);
}

/**
 * Rows of `what` (transfers, payouts) that no completed record answers with,
 * and records that answer with a row that does not exist, in words.
 */
export function unmatchedRows(opts: {
  what: string;
  rows: readonly { id: string }[];
  answered: readonly string[];
}): string[] {
  const problems: string[] = [];
  const answered = new Set(opts.answered);
  const rows = new Set(opts.rows.map((row) => row.id));
  for (const id of rows) {
    if (!answered.has(id)) problems.push(`${opts.what} ${id} has no completed idempotency record`);
  }
  for (const id of answered) {
    if (!rows.has(id)) {
      problems.push(`idempotency record answers with ${opts.what} ${id}, which does not exist`);
    }
  }
  return problems;
}
