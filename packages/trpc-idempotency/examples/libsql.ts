// db.ts: the records on libSQL: a Turso database (libsql://…), or a local file (file:…)
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { idempotentProcedure } from 'trpc-idempotency';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from 'trpc-idempotency/sqlite';
import { z } from 'zod';
import { authed } from './quickstart/router.js'; // your base procedure, as in the Quickstart

export const db = drizzle({
  connection: {
    url: process.env.TURSO_DATABASE_URL ?? 'file:app.db',
    authToken: process.env.TURSO_AUTH_TOKEN,
    timeout: 5000, // a local file's busy timeout: required (see below); a remote database ignores it
  },
});
export const orders = sqliteTable('orders', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  item: text('item').notNull(),
});
await db.run(sql`CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT,
  item TEXT NOT NULL)`); // your own migrations create your tables
await migrateSqliteIdempotencyStore(db); // safe when several processes start at once

export const store = sqliteIdempotencyStore({ db }); // libSQL: store.transactionKind is 'async'

export const order = idempotentProcedure({
  procedure: authed,
  store,
  scope: ({ ctx }) => ctx.userId,
})
  .input(z.object({ item: z.string() }))
  .mutation(({ ctx, input }) =>
    // libSQL's transactions are asynchronous: the commit callback may await.
    ctx.idempotency.commit(async (tx) => {
      const [row] = await tx.insert(orders).values({ item: input.item }).returning();
      return { orderId: row!.id };
    }),
  );
