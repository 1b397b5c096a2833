import Database from 'better-sqlite3';

/** What a ledger database file holds, read straight from SQLite. */
export interface LedgerFileSnapshot {
  accounts: Array<{ id: string; owner: string; balance: number; openingBalance: number }>;
  transfers: Array<{ id: string; fromAccountId: string; toAccountId: string; amount: number }>;
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
 * - a transfer without a completed idempotency record that answers with it
 * - a completed `transfers.create` result whose transfer does not exist
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
