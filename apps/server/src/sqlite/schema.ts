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

export type AccountRow = typeof accounts.$inferSelect;
export type TransferRow = typeof transfers.$inferSelect;
