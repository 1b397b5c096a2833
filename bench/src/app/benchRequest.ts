import type { Ledger, LedgerExecution, TransferRequest } from '@ledger/server';

/**
 * Opens the two accounts every call moves money between, through the
 * example's ledger in a plain transaction: a payer holding plenty and a
 * payee. Resolves with the request every contender sends, 1 cent from one to
 * the other; if an opening fails, `close()` runs before the error is thrown.
 */
export async function openBenchAccounts(opts: {
  ledger: Pick<Ledger, 'openAccount'>;
  plainExecution: LedgerExecution;
  close: () => Promise<void>;
}): Promise<TransferRequest> {
  const open = (owner: string, initialBalance: number) =>
    opts.ledger.openAccount(opts.plainExecution, { owner, initialBalance, openedBy: 'bench' });
  try {
    const payer = await open('payer', 1_000_000_000_000);
    const payee = await open('payee', 0);
    return { fromAccountId: payer.id, toAccountId: payee.id, amount: 1 };
  } catch (error) {
    await opts.close();
    throw error;
  }
}

/**
 * `request` with an idempotency key, as a client's request arrives (a fresh
 * object with every field its own). Not `{ ...request, idempotencyKey }`: on
 * Node 20's V8 a key added after a spread costs a new hidden class, about a
 * microsecond on every call, which only the idempotent contenders would pay
 * (BENCHMARKS.md, issue #23).
 */
export function keyedRequest(
  request: TransferRequest,
  idempotencyKey: string,
): TransferRequest & { idempotencyKey: string } {
  return {
    fromAccountId: request.fromAccountId,
    toAccountId: request.toAccountId,
    amount: request.amount,
    idempotencyKey,
  };
}
