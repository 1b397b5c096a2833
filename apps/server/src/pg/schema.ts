import { sql } from 'drizzle-orm';
import { bigint, check, index, pgTable, text } from 'drizzle-orm/pg-core';

/**
 * The ledger's tables in Postgres: the same tables, columns and constraints as
 * the SQLite schema (`../sqlite/schema.ts`), so tools and tests read either
 * database the same way. Amounts and instants are `bigint`: a balance may
 * reach `Number.MAX_SAFE_INTEGER`, beyond a Postgres `integer`.
 */
export const accounts = pgTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    balance: bigint('balance', { mode: 'number' }).notNull(),
    openingBalance: bigint('opening_balance', { mode: 'number' }).notNull(),
    /** The `x-user-id` that opened the account. */
    openedBy: text('opened_by').notNull(),
    createdAtMs: bigint('created_at_ms', { mode: 'number' }).notNull(),
  },
  (table) => [
    check('accounts_balance_not_negative', sql`${table.balance} >= 0`),
    check('accounts_opening_balance_not_negative', sql`${table.openingBalance} >= 0`),
  ],
);

/**
 * Money moved between two accounts. `seq` is drawn after the transfer holds
 * the row locks of both accounts, so the transfers of one account are in
 * `seq` order exactly as they committed: "oldest first" per account.
 */
export const transfers = pgTable(
  'transfers',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    id: text('id').notNull().unique(),
    fromAccountId: text('from_account_id')
      .notNull()
      .references(() => accounts.id),
    toAccountId: text('to_account_id')
      .notNull()
      .references(() => accounts.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    /** The `x-user-id` that asked for the transfer. */
    createdBy: text('created_by').notNull(),
    createdAtMs: bigint('created_at_ms', { mode: 'number' }).notNull(),
  },
  (table) => [
    index('transfers_from_account_idx').on(table.fromAccountId, table.seq),
    index('transfers_to_account_idx').on(table.toAccountId, table.seq),
    check('transfers_amount_positive', sql`${table.amount} > 0`),
    check('transfers_distinct_accounts', sql`${table.fromAccountId} <> ${table.toAccountId}`),
  ],
);

/** Money reserved by a payout in progress; see the SQLite schema's `payoutHolds`. */
export const payoutHolds = pgTable(
  'payout_holds',
  {
    id: text('id').primaryKey(),
    holdKey: text('hold_key').notNull().unique(),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    state: text('state', { enum: ['held', 'settled'] }).notNull(),
    /** The `x-user-id` that asked for the payout. */
    createdBy: text('created_by').notNull(),
    createdAtMs: bigint('created_at_ms', { mode: 'number' }).notNull(),
    settledAtMs: bigint('settled_at_ms', { mode: 'number' }),
  },
  (table) => [
    index('payout_holds_account_idx').on(table.accountId),
    check('payout_holds_amount_positive', sql`${table.amount} > 0`),
    check('payout_holds_state', sql`${table.state} IN ('held', 'settled')`),
  ],
);

/** Payouts the gateway made, one per settled hold; see the SQLite schema's `payouts`. */
export const payouts = pgTable(
  'payouts',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    id: text('id').notNull().unique(),
    holdId: text('hold_id')
      .notNull()
      .unique()
      .references(() => payoutHolds.id),
    accountId: text('account_id')
      .notNull()
      .references(() => accounts.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    gatewayPayoutId: text('gateway_payout_id').notNull().unique(),
    /** The `x-user-id` that asked for the payout. */
    createdBy: text('created_by').notNull(),
    createdAtMs: bigint('created_at_ms', { mode: 'number' }).notNull(),
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
