import { sql } from 'drizzle-orm';
import { check, index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The ledger's accounts. Amounts are integers in minor units (cents).
 * `openingBalance` is kept so a balance can be audited against the transfers.
 */
export const accounts = sqliteTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    balance: integer('balance').notNull(),
    openingBalance: integer('opening_balance').notNull(),
    /** The `x-user-id` that opened the account. */
    openedBy: text('opened_by').notNull(),
    createdAtMs: integer('created_at_ms').notNull(),
  },
  (table) => [
    check('accounts_balance_not_negative', sql`${table.balance} >= 0`),
    check('accounts_opening_balance_not_negative', sql`${table.openingBalance} >= 0`),
  ],
);

/**
 * Money moved between two accounts. `seq` orders transfers by commit, so
 * "oldest first" is the order they happened in, even within one millisecond.
 */
export const transfers = sqliteTable(
  'transfers',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull().unique(),
    fromAccountId: text('from_account_id')
      .notNull()
      .references(() => accounts.id),
    toAccountId: text('to_account_id')
      .notNull()
      .references(() => accounts.id),
    amount: integer('amount').notNull(),
    /** The `x-user-id` that asked for the transfer. */
    createdBy: text('created_by').notNull(),
    createdAtMs: integer('created_at_ms').notNull(),
  },
  (table) => [
    index('transfers_from_account_idx').on(table.fromAccountId, table.seq),
    index('transfers_to_account_idx').on(table.toAccountId, table.seq),
    check('transfers_amount_positive', sql`${table.amount} > 0`),
    check('transfers_distinct_accounts', sql`${table.fromAccountId} <> ${table.toAccountId}`),
  ],
);

/**
 * Money a payout has taken out of an account's balance (`payouts.create`'s
 * `reserve` step): `held` while the payout is in progress, `settled` once it
 * is recorded. `holdKey` is the payout's `downstreamKey('reserve')`, so a
 * reservation made again for the same idempotency key (a crash between the
 * commit and the stored step) finds this one instead of taking the money twice.
 */
export const payoutHolds = sqliteTable(
  'payout_holds',
  {
    id: text('id').primaryKey(),
    holdKey: text('hold_key').notNull().unique(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    amount: integer('amount').notNull(),
    state: text('state', { enum: ['held', 'settled'] }).notNull(),
    /** The `x-user-id` that asked for the payout. */
    createdBy: text('created_by').notNull(),
    createdAtMs: integer('created_at_ms').notNull(),
    settledAtMs: integer('settled_at_ms'),
  },
  (table) => [
    index('payout_holds_account_idx').on(table.accountId),
    check('payout_holds_amount_positive', sql`${table.amount} > 0`),
    check('payout_holds_state', sql`${table.state} IN ('held', 'settled')`),
  ],
);

/**
 * Payouts the gateway made, one per settled hold (`holdId` is unique, so
 * recording a payout again finds the first row) and one per gateway payout.
 */
export const payouts = sqliteTable(
  'payouts',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    id: text('id').notNull().unique(),
    holdId: text('hold_id')
      .notNull()
      .unique()
      .references(() => payoutHolds.id),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    amount: integer('amount').notNull(),
    gatewayPayoutId: text('gateway_payout_id').notNull().unique(),
    /** The `x-user-id` that asked for the payout. */
    createdBy: text('created_by').notNull(),
    createdAtMs: integer('created_at_ms').notNull(),
  },
  (table) => [
    index('payouts_account_idx').on(table.accountId, table.seq),
    check('payouts_amount_positive', sql`${table.amount} > 0`),
  ],
);

export type AccountRow = typeof accounts.$inferSelect;
export type TransferRow = typeof transfers.$inferSelect;
export type PayoutHoldRow = typeof payoutHolds.$inferSelect;
export type PayoutRow = typeof payouts.$inferSelect;
