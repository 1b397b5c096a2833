// db.ts: the records on MySQL 8.0+ or MariaDB 10.11+, for several server processes or machines
import { drizzle } from 'drizzle-orm/mysql2';
import mysql from 'mysql2/promise';
import { migrateMysqlIdempotencyStore, mysqlIdempotencyStore } from 'trpc-idempotency/mysql';

// multipleStatements: the record's insert travels with COMMIT (one round trip less per execution).
const pool = mysql.createPool({ uri: process.env.DATABASE_URL, multipleStatements: true });
export const db = drizzle({ client: pool });
await migrateMysqlIdempotencyStore(db); // safe when several processes start at once
export const store = mysqlIdempotencyStore({ db, lockTimeoutMs: 2000, purgeBatchSize: 1000 });

setInterval(() => void store.purge({ now: Date.now() }), 60 * 60 * 1000).unref();
