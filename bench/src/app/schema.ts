import { sql } from 'drizzle-orm';
import { check, index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * The benchmark's own copy of the ledger's tables (apps/server), so the
 * comparison does not move when the example app changes. Amounts in cents.
 */
export const accounts = sqliteTable(
  'accounts',
  {
    id: text('id').primaryKey(),
    owner: text('owner').notNull(),
    balance: integer('balance').notNull(),
  },
  (table) => [check('accounts_balance_not_negative', sql`${table.balance} >= 0`)],
);

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
    createdBy: text('created_by').notNull(),
    createdAtMs: integer('created_at_ms').notNull(),
  },
  (table) => [
    index('transfers_from_account_idx').on(table.fromAccountId, table.seq),
    index('transfers_to_account_idx').on(table.toAccountId, table.seq),
    check('transfers_amount_positive', sql`${table.amount} > 0`),
  ],
);

/** The same tables as DDL: the bench creates them without a migration folder of its own. */
export const LEDGER_DDL = `
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY NOT NULL,
  owner TEXT NOT NULL,
  balance INTEGER NOT NULL,
  CONSTRAINT accounts_balance_not_negative CHECK (balance >= 0)
);
CREATE TABLE IF NOT EXISTS transfers (
  seq INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  id TEXT NOT NULL,
  from_account_id TEXT NOT NULL REFERENCES accounts(id),
  to_account_id TEXT NOT NULL REFERENCES accounts(id),
  amount INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  CONSTRAINT transfers_amount_positive CHECK (amount > 0)
);
CREATE UNIQUE INDEX IF NOT EXISTS transfers_id_unique ON transfers (id);
CREATE INDEX IF NOT EXISTS transfers_from_account_idx ON transfers (from_account_id, seq);
CREATE INDEX IF NOT EXISTS transfers_to_account_idx ON transfers (to_account_id, seq);
`;
