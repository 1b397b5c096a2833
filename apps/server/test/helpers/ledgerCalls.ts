import { newKey } from '@ledger/testkit';
import { TRPCError } from '@trpc/server';
import { expect } from 'vitest';
import type { LedgerApp } from '../../src/app';

/** A server-side caller of the ledger's router. */
export type LedgerCaller = ReturnType<LedgerApp['router']['createCaller']>;

type Account = Awaited<ReturnType<LedgerCaller['accounts']['open']>>;

/** Opens one account per balance, owned by A, B, … in order, each with a fresh key. */
export async function openAccounts<const TBalances extends readonly number[]>(
  caller: LedgerCaller,
  ...balances: TBalances
): Promise<{ [K in keyof TBalances]: Account }> {
  const accounts: Account[] = [];
  for (const [i, initialBalance] of balances.entries()) {
    const owner = String.fromCharCode(65 + i);
    accounts.push(await caller.accounts.open({ idempotencyKey: newKey(), owner, initialBalance }));
  }
  return accounts as { [K in keyof TBalances]: Account };
}

/** An account, or its id. */
type AccountRef = string | { id: string };
const idOf = (account: AccountRef) => (typeof account === 'string' ? account : account.id);

/** The input of a transfer of `amount` from `from` to `to`, with `idempotencyKey` (default a fresh one). */
export function transferInput(
  from: AccountRef,
  to: AccountRef,
  amount: number,
  idempotencyKey = newKey(),
) {
  return { idempotencyKey, fromAccountId: idOf(from), toAccountId: idOf(to), amount };
}

/** Rejects with a TRPCError of `code`; returns it for more checks. */
export async function rejection(promise: Promise<unknown>, code: TRPCError['code']) {
  const error = await promise.then(
    () => expect.fail(`expected ${code}, got a result`),
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(TRPCError);
  expect((error as TRPCError).code).toBe(code);
  return error as TRPCError;
}
