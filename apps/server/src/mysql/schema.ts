import { sql } from 'drizzle-orm';
import { bigint, check, index, mysqlTable, varchar } from 'drizzle-orm/mysql-core';

/**
 * The ledger's tables in MySQL and MariaDB: the same tables, columns and
 * constraints as the Postgres schema (`../pg/schema.ts`). Ids are `varchar`,
 * not `text`: MySQL indexes (primary keys, unique keys) need a bounded
 * length. Ids are `acc_…`, `tr_…` and so on (20 characters); hold keys are
 * idempotency keys, at most 255 characters (the library's limit).
 */
const id = (name: string) => varchar(name, { length: 64 });
const userId = (name: string) => varchar(name, { length: 255 });

export const accounts = mysqlTable(
  'accounts',
  {
    id: id('id').primaryKey(),
    owner: varchar('owner', { length: 1000 }).notNull(),
    balance: bigint('balance', { mode: 'number' }).notNull(),
    openingBalance: bigint('opening_balance', { mode: 'number' }).notNull(),
    /** The `x-user-id` that opened the account. */
    openedBy: userId('opened_by').notNull(),
    createdAtMs: bigint('created_at_ms', { mode: 'number' }).notNull(),
  },
  (table) => [
    check('accounts_balance_not_negative', sql`${table.balance} >= 0`),
    check('accounts_opening_balance_not_negative', sql`${table.openingBalance} >= 0`),
  ],
);

/**
 * Money moved between two accounts. `seq` is drawn after the transfer holds
 * the row locks of both accounts (auto-increment, at the insert), so the
 * transfers of one account are in `seq` order exactly as they committed.
 */
export const transfers = mysqlTable(
  'transfers',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().autoincrement(),
    id: id('id').notNull().unique(),
    fromAccountId: id('from_account_id')
      .notNull()
      .references(() => accounts.id),
    toAccountId: id('to_account_id')
      .notNull()
      .references(() => accounts.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    /** The `x-user-id` that asked for the transfer. */
    createdBy: userId('created_by').notNull(),
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
export const payoutHolds = mysqlTable(
  'payout_holds',
  {
    id: id('id').primaryKey(),
    holdKey: varchar('hold_key', { length: 512 }).notNull().unique(),
    accountId: id('account_id')
      .notNull()
      .references(() => accounts.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    state: varchar('state', { length: 16, enum: ['held', 'settled'] }).notNull(),
    /** The `x-user-id` that asked for the payout. */
    createdBy: userId('created_by').notNull(),
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
export const payouts = mysqlTable(
  'payouts',
  {
    seq: bigint('seq', { mode: 'number' }).primaryKey().autoincrement(),
    id: id('id').notNull().unique(),
    holdId: id('hold_id')
      .notNull()
      .unique()
      .references(() => payoutHolds.id),
    accountId: id('account_id')
      .notNull()
      .references(() => accounts.id),
    amount: bigint('amount', { mode: 'number' }).notNull(),
    gatewayPayoutId: varchar('gateway_payout_id', { length: 255 }).notNull().unique(),
    /** The `x-user-id` that asked for the payout. */
    createdBy: userId('created_by').notNull(),
    createdAtMs: bigint('created_at_ms', { mode: 'number' }).notNull(),
  },
  (table) => [
    index('payouts_account_idx').on(table.accountId, table.seq),
    check('payouts_amount_positive', sql`${table.amount} > 0`),
  ],
);

export type AccountRow = typeof accounts.$inferSelect;
export type TransferRow = typeof transfers.$inferSelect;
