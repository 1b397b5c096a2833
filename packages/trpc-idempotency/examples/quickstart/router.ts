// router.ts
import { initTRPC, TRPCError } from '@trpc/server';
import Database from 'better-sqlite3';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import superjson from 'superjson';
import { idempotentProcedure } from 'trpc-idempotency';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from 'trpc-idempotency/sqlite';
import { z } from 'zod';

// Your own tables, as in your drizzle-kit schema.
export const invoices = sqliteTable('invoices', {
  id: text('id').primaryKey(),
  amountDue: integer('amount_due').notNull(),
});
export const payments = sqliteTable('payments', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  invoiceId: text('invoice_id').notNull(),
  amount: integer('amount').notNull(),
  paidAt: integer('paid_at', { mode: 'timestamp_ms' }).notNull(),
});

export const db = drizzle(new Database(process.env.DATABASE_FILE ?? 'app.db'));
// Your migrations create your tables; for this example, inline:
db.run(sql`CREATE TABLE IF NOT EXISTS invoices (id TEXT PRIMARY KEY, amount_due INTEGER NOT NULL)`);
db.run(sql`CREATE TABLE IF NOT EXISTS payments (id INTEGER PRIMARY KEY AUTOINCREMENT,
  invoice_id TEXT NOT NULL, amount INTEGER NOT NULL, paid_at INTEGER NOT NULL)`);
db.insert(invoices).values({ id: 'inv_1', amountDue: 500 }).onConflictDoNothing().run();
migrateSqliteIdempotencyStore(db); // creates or upgrades the records table; safe at every start

export const t = initTRPC.context<{ userId: string | null }>().create({ transformer: superjson });
export const authed = t.procedure.use(({ ctx, next }) => {
  if (!ctx.userId) throw new TRPCError({ code: 'UNAUTHORIZED' });
  return next({ ctx: { userId: ctx.userId } });
});

const idempotent = idempotentProcedure({
  procedure: authed, // your own base procedure: its context, errors and transformer carry over
  store: sqliteIdempotencyStore({ db }), // on your own Drizzle database
  scope: ({ ctx }) => ctx.userId, // whose key it is
});

export const appRouter = t.router({
  pay: idempotent
    .input(z.object({ invoiceId: z.string(), amount: z.number().int().positive() }))
    .mutation(({ ctx, input }) => {
      // Preparation: reads, checks, calls. A TRPCError with a 4xx code is final: stored and replayed.
      const invoice = db.select().from(invoices).where(eq(invoices.id, input.invoiceId)).get();
      if (!invoice) throw new TRPCError({ code: 'NOT_FOUND', message: 'no such invoice' });
      // One transaction: your writes and the stored response commit together.
      return ctx.idempotency.commit((tx) => {
        const payment = tx
          .insert(payments)
          .values({ invoiceId: invoice.id, amount: input.amount, paidAt: new Date() })
          .returning()
          .get();
        return { paymentId: payment.id, paidAt: payment.paidAt }; // a Date, replayed as a Date
      });
    }),
});
export type AppRouter = typeof appRouter;
