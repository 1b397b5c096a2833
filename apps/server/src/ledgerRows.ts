import { type Column, sql } from 'drizzle-orm';
import type { TransferRequest } from './ledger';

/**
 * The ledger's rows as Drizzle selections and insert values, written once for
 * both dialects' tables (`sqlite/schema.ts`, `pg/schema.ts`): each table has
 * the same columns under the same names, only their builders differ. The
 * statements around them stay per dialect (`sqlite/ledger.ts`, `pg/ledger.ts`).
 */

/** A named placeholder of a prepared statement. */
export const p = (name: string) => sql.placeholder(name);

/** A table's columns `names`, each with its own type (for `select`). */
function columns<TTable, TName extends keyof TTable>(table: TTable, ...names: TName[]) {
  return Object.fromEntries(names.map((name) => [name, table[name]])) as Pick<TTable, TName>;
}

type Table<TName extends string> = Record<TName, Column>;

/** An account as the ledger answers it. */
const accountFields = <T extends Table<'id' | 'owner' | 'balance'>>(table: T) =>
  columns(table, 'id', 'owner', 'balance');

/** A transfer as the ledger answers it (its time still in ms). */
const transferFields = <
  T extends Table<'id' | 'fromAccountId' | 'toAccountId' | 'amount' | 'createdAtMs'>,
>(
  table: T,
) => columns(table, 'id', 'fromAccountId', 'toAccountId', 'amount', 'createdAtMs');

/** A payout hold as a reservation finds it. */
const holdFields = <T extends Table<'id' | 'accountId' | 'amount' | 'state'>>(table: T) =>
  columns(table, 'id', 'accountId', 'amount', 'state');

/** A recorded payout as the ledger answers it. */
const payoutFields = <T extends Table<'id' | 'accountId' | 'amount' | 'gatewayPayoutId'>>(
  table: T,
) => columns(table, 'id', 'accountId', 'amount', 'gatewayPayoutId');

/** The columns each kind of row is read with, on either dialect's table. */
export const fields = {
  account: accountFields,
  transfer: transferFields,
  hold: holdFields,
  payout: payoutFields,
};

/**
 * New rows as prepared inserts take them, from named parameters (`now` is
 * the creation time): an account (`id`, `owner`, `balance`, `openedBy`), a
 * transfer ({@link transferRow}), a hold (`id`, `holdKey`, `accountId`,
 * `amount`, `createdBy`), a payout (`id`, `holdId`, `accountId`, `amount`,
 * `gatewayPayoutId`, `createdBy`).
 */
export const values = {
  account: {
    id: p('id'),
    owner: p('owner'),
    balance: p('balance'),
    openingBalance: p('balance'),
    openedBy: p('openedBy'),
    createdAtMs: p('now'),
  },
  transfer: {
    id: p('id'),
    fromAccountId: p('fromAccountId'),
    toAccountId: p('toAccountId'),
    amount: p('amount'),
    createdBy: p('createdBy'),
    createdAtMs: p('now'),
  },
  hold: {
    id: p('id'),
    holdKey: p('holdKey'),
    accountId: p('accountId'),
    amount: p('amount'),
    state: 'held' as const,
    createdBy: p('createdBy'),
    createdAtMs: p('now'),
  },
  payout: {
    id: p('id'),
    holdId: p('holdId'),
    accountId: p('accountId'),
    amount: p('amount'),
    gatewayPayoutId: p('gatewayPayoutId'),
    createdBy: p('createdBy'),
    createdAtMs: p('now'),
  },
};

/** The parameters of a new account's row. */
export function accountRow(
  request: { owner: string; initialBalance: number; openedBy: string },
  row: { id: string; now: number },
) {
  const { owner, initialBalance: balance, openedBy } = request;
  return { id: row.id, owner, balance, openedBy, now: row.now };
}

/** The parameters of a new transfer's row. */
export function transferRow(
  request: TransferRequest & { createdBy: string },
  row: { id: string; now: number },
) {
  const { fromAccountId, toAccountId, amount, createdBy } = request;
  return { id: row.id, fromAccountId, toAccountId, amount, createdBy, now: row.now };
}
