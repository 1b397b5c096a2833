// db.ts: the records on Postgres through postgres.js, as Drizzle's docs create the database
import { drizzle } from 'drizzle-orm/postgres-js';
import { migratePgIdempotencyStore, pgIdempotencyStore } from 'trpc-idempotency/pg';

export const db = drizzle(process.env.DATABASE_URL!);
await migratePgIdempotencyStore(db); // safe when several processes start at once
export const store = pgIdempotencyStore({ db });
