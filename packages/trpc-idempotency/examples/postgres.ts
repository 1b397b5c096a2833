// db.ts: the records on Postgres, for several server processes or machines
import { drizzle } from 'drizzle-orm/node-postgres';
import { Pool } from 'pg';
import { migratePgIdempotencyStore, pgIdempotencyStore } from 'trpc-idempotency/pg';

export const db = drizzle(new Pool({ connectionString: process.env.DATABASE_URL, max: 20 }));
await migratePgIdempotencyStore(db); // safe when several processes start at once
export const store = pgIdempotencyStore({ db, lockTimeoutMs: 2000, purgeBatchSize: 1000 });

// Completed records replay for ttlMs (24 h by default); a purge reclaims the space of expired ones.
setInterval(() => void store.purge({ now: Date.now() }), 60 * 60 * 1000).unref();
