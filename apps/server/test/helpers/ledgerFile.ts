import Database from 'better-sqlite3';

/** What a ledger database file holds, read straight from SQLite. */
export interface LedgerFileSnapshot {
  accounts: Array<{ id: string; owner: string; balance: number; openingBalance: number }>;
  transfers: Array<{ id: string; fromAccountId: string; toAccountId: string; amount: number }>;
  /** Money payouts took out of accounts: `held` while the payout runs, `settled` once recorded. */
  holds: Array<{
    id: string;
    holdKey: string;
    accountId: string;
    amount: number;
    state: 'held' | 'settled';
  }>;
  /** Payouts recorded, one per settled hold. */
  payouts: Array<{
    id: string;
    holdId: string;
    accountId: string;
    amount: number;
    gatewayPayoutId: string;
  }>;
  records: Array<{
    scope: string;
    key: string;
    path: string;
    /** 1, plus one per take-over of an abandoned execution. */
    attempt: number;
    state: 'in_progress' | 'completed';
    outcomeKind: 'result' | 'error' | null;
    response: string | null;
  }>;
}

/**
 * Reads a ledger's SQLite file on its own connection (the server may be
 * running or gone). Use it to check what was really committed.
 */
export function readLedgerFile(file: string): LedgerFileSnapshot {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return {
      accounts: db
        .prepare(
          'SELECT id, owner, balance, opening_balance AS openingBalance FROM accounts ORDER BY rowid',
        )
        .all() as LedgerFileSnapshot['accounts'],
      transfers: db
        .prepare(
          'SELECT id, from_account_id AS fromAccountId, to_account_id AS toAccountId, amount FROM transfers ORDER BY seq',
        )
        .all() as LedgerFileSnapshot['transfers'],
      holds: db
        .prepare(
          'SELECT id, hold_key AS holdKey, account_id AS accountId, amount, state FROM payout_holds ORDER BY created_at_ms, id',
        )
        .all() as LedgerFileSnapshot['holds'],
      payouts: db
        .prepare(
          'SELECT id, hold_id AS holdId, account_id AS accountId, amount, gateway_payout_id AS gatewayPayoutId FROM payouts ORDER BY seq',
        )
        .all() as LedgerFileSnapshot['payouts'],
      records: db
        .prepare(
          'SELECT scope, key, path, attempt, state, outcome_kind AS outcomeKind, response FROM idempotency_records ORDER BY scope, key',
        )
        .all() as LedgerFileSnapshot['records'],
    };
  } finally {
    db.close();
  }
}

/**
 * Everything that would mean a half-written or double-written ledger, in
 * words; empty when the file is consistent:
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
export function auditLedger(snapshot: LedgerFileSnapshot): string[] {
  const problems: string[] = [];
  const expected = new Map(snapshot.accounts.map((a) => [a.id, a.openingBalance]));
  for (const transfer of snapshot.transfers) {
    expected.set(
      transfer.fromAccountId,
      (expected.get(transfer.fromAccountId) ?? 0) - transfer.amount,
    );
    expected.set(transfer.toAccountId, (expected.get(transfer.toAccountId) ?? 0) + transfer.amount);
  }
  for (const hold of snapshot.holds) {
    expected.set(hold.accountId, (expected.get(hold.accountId) ?? 0) - hold.amount);
  }
  problems.push(...auditPayouts(snapshot));
  for (const account of snapshot.accounts) {
    if (account.balance !== expected.get(account.id)) {
      problems.push(
        `account ${account.id} has balance ${account.balance}, its transfers say ${expected.get(account.id)}`,
      );
    }
  }
  const answered = new Set<string>();
  for (const record of snapshot.records) {
    if (record.state !== 'completed') {
      problems.push(
        `idempotency record for ${record.path} (scope ${record.scope}) is ${record.state}`,
      );
    } else if (record.path === 'transfers.create' && record.outcomeKind === 'result') {
      answered.add((JSON.parse(record.response!) as { id: string }).id);
    }
  }
  const transferIds = new Set(snapshot.transfers.map((transfer) => transfer.id));
  for (const id of transferIds) {
    if (!answered.has(id)) problems.push(`transfer ${id} has no completed idempotency record`);
  }
  for (const id of answered) {
    if (!transferIds.has(id))
      problems.push(`idempotency record answers with transfer ${id}, which does not exist`);
  }
  return problems;
}

/** The payout part of {@link auditLedger}. */
function auditPayouts(snapshot: LedgerFileSnapshot): string[] {
  const problems: string[] = [];
  const payoutsOfHold = new Map<string, LedgerFileSnapshot['payouts']>();
  for (const payout of snapshot.payouts) {
    payoutsOfHold.set(payout.holdId, [...(payoutsOfHold.get(payout.holdId) ?? []), payout]);
  }
  const holds = new Map(snapshot.holds.map((hold) => [hold.id, hold]));
  for (const hold of snapshot.holds) {
    const recorded = payoutsOfHold.get(hold.id) ?? [];
    if (hold.state === 'held') {
      problems.push(`hold ${hold.id} of account ${hold.accountId} is still held`);
      if (recorded.length > 0) problems.push(`hold ${hold.id} is held but has a payout`);
      continue;
    }
    if (recorded.length !== 1) {
      problems.push(`settled hold ${hold.id} has ${recorded.length} payouts`);
      continue;
    }
    const [payout] = recorded;
    if (payout!.accountId !== hold.accountId || payout!.amount !== hold.amount) {
      problems.push(`payout ${payout!.id} is not what its hold ${hold.id} reserved`);
    }
  }
  for (const payout of snapshot.payouts) {
    if (holds.get(payout.holdId)?.state !== 'settled') {
      problems.push(`payout ${payout.id} has no settled hold`);
    }
  }
  const answered = new Set<string>();
  for (const record of snapshot.records) {
    if (
      record.state === 'completed' &&
      record.path === 'payouts.create' &&
      record.outcomeKind === 'result'
    ) {
      answered.add((JSON.parse(record.response!) as { id: string }).id);
    }
  }
  const payoutIds = new Set(snapshot.payouts.map((payout) => payout.id));
  for (const id of payoutIds) {
    if (!answered.has(id)) problems.push(`payout ${id} has no completed idempotency record`);
  }
  for (const id of answered) {
    if (!payoutIds.has(id)) {
      problems.push(`idempotency record answers with payout ${id}, which does not exist`);
    }
  }
  return problems;
}
