import { auditLedger } from './audit';
import type { SettledCall } from './calls';
import { type LedgerSnapshot, recordId } from './snapshot';
import { answeredIds, expectedBalances, moneyInLedger } from './tally';

/** The input of `transfers.create`, without the key. */
export interface TransferInput {
  fromAccountId: string;
  toAccountId: string;
  amount: number;
}

interface TransferResult extends TransferInput {
  id: string;
}

/**
 * Every invariant of "retry safely, effect once" that a ledger database and
 * how the clients' `transfers.create` calls ended must satisfy
 * after a run; empty when all hold:
 *
 * - the database's own audit ({@link auditLedger}: balances = opening ±
 *   transfers, every transfer has a completed record, no record left in progress);
 * - money conserved: the balances, plus what payouts reserved or paid out
 *   (their holds), add up to what was opened;
 * - transfers and completed `transfers.create` result records are in one-to-one
 *   correspondence (each record names one existing transfer, each transfer is
 *   named by exactly one record);
 * - no call saw two different successful responses;
 * - every call that succeeded maps, through its `(user, key)` record, to exactly
 *   the transfer it was answered with, with the input it sent, and the stored
 *   response is the one it got; every call that was refused has that refusal
 *   stored; no transfer exists that no call got;
 * - every balance is what the clients' successful transfers say (less the
 *   payouts' holds).
 */
export function checkTransferRun(opts: {
  snapshot: LedgerSnapshot;
  openingTotal: number;
  transfers: readonly SettledCall<TransferInput>[];
}): string[] {
  const { snapshot } = opts;
  const problems = auditLedger(snapshot).map((problem) => `audit: ${problem}`);

  const total = moneyInLedger(snapshot);
  if (total !== opts.openingTotal) {
    problems.push(
      `money not conserved: balances and payout holds add up to ${total}, ${opts.openingTotal} was opened`,
    );
  }

  const transfersById = new Map(snapshot.transfers.map((transfer) => [transfer.id, transfer]));
  if (transfersById.size !== snapshot.transfers.length)
    problems.push('a transfer id appears twice');
  const namedBy = new Map<string, number>();
  for (const id of answeredIds(snapshot.records, 'transfers.create')) {
    namedBy.set(id, (namedBy.get(id) ?? 0) + 1);
  }
  for (const [id, count] of namedBy) {
    if (count > 1) problems.push(`transfer ${id} is named by ${count} completed records`);
  }

  const records = new Map(snapshot.records.map((record) => [recordId(record), record]));
  const succeeded: TransferResult[] = [];
  for (const call of opts.transfers) {
    const label = `${call.user}/${call.key}`;
    const distinct = new Set(call.record.successes);
    if (distinct.size > 1) {
      problems.push(
        `${label} got ${distinct.size} different successful responses: ${[...distinct].join(' | ')}`,
      );
    }
    const record = records.get(recordId({ scope: call.user, key: call.key }));
    const final = call.record.final;
    if (final.kind === 'result') {
      const answered = JSON.parse(final.body) as TransferResult;
      succeeded.push(answered);
      const transfer = transfersById.get(answered.id);
      if (!transfer) {
        problems.push(`${label} succeeded with transfer ${answered.id}, which does not exist`);
      } else if (
        transfer.fromAccountId !== call.input.fromAccountId ||
        transfer.toAccountId !== call.input.toAccountId ||
        transfer.amount !== call.input.amount
      ) {
        problems.push(`${label}: transfer ${answered.id} is not what the call asked for`);
      }
      if (record?.state !== 'completed' || record.outcomeKind !== 'result') {
        problems.push(`${label} succeeded but its record is ${record ? record.state : 'missing'}`);
      } else if (record.response !== final.body) {
        problems.push(`${label}: the stored response differs from the one the client got`);
      }
    } else if (final.status !== 400 && final.status !== 401) {
      // A stored refusal (404, 412) is the key's answer for good.
      if (record?.state !== 'completed' || record.outcomeKind !== 'error') {
        problems.push(`${label} was refused (${final.code}) but no refusal is stored`);
      }
    }
  }
  if (snapshot.transfers.length !== succeeded.length) {
    problems.push(
      `${snapshot.transfers.length} transfers exist, ${succeeded.length} calls succeeded`,
    );
  }
  const expected = expectedBalances(snapshot, succeeded);
  for (const account of snapshot.accounts) {
    if (account.balance !== expected.get(account.id)) {
      problems.push(
        `account ${account.id} holds ${account.balance}, the clients' transfers say ${expected.get(account.id)}`,
      );
    }
  }
  return problems;
}
