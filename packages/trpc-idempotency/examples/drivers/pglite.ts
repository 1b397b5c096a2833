// db.ts: the records in PGlite, Postgres inside this process (tests, a single-process app)
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migratePgIdempotencyStore, pgIdempotencyStore } from 'trpc-idempotency/pg';

const client = new PGlite(); // in memory; new PGlite('./data/pg') keeps it in a folder
export const db = drizzle({ client });
await migratePgIdempotencyStore(db);
export const store = pgIdempotencyStore({ db });
