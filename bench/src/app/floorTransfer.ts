import {
  type Account,
  assertTransferPossible,
  newId,
  type Transfer,
  type TransferRequest,
  toTransfer,
} from '@ledger/server';

/** A transfer request as a floor takes it: with the caller that asked. */
export type FloorRequest = TransferRequest & { createdBy: string };

/**
 * What every floor does around its own raw statements, as the example's
 * ledger does: its checks on the two accounts it read, a new id and time,
 * the transfer row's values (in `INSERT INTO transfers (id, from_account_id,
 * to_account_id, amount, created_by, created_at_ms)` order) and the answer.
 */
export function plannedTransfer(
  request: FloorRequest,
  accounts: { from: Account | undefined; to: Account | undefined },
): { values: [string, string, string, number, string, number]; answer: Transfer } {
  assertTransferPossible(request, accounts);
  const id = newId('tr');
  const createdAtMs = Date.now();
  return {
    values: [
      id,
      request.fromAccountId,
      request.toAccountId,
      request.amount,
      request.createdBy,
      createdAtMs,
    ],
    answer: toTransfer({ ...request, id, createdAtMs }),
  };
}
