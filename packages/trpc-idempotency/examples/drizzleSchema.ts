// schema.ts of your app, read by drizzle-kit: the records table beside your own
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

export { idempotencyRecords } from 'trpc-idempotency/sqlite';

export const orders = sqliteTable('orders', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  item: text('item').notNull(),
});
