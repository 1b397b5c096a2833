// Your own operations tooling: the CLI's DATABASE_URL reader and admin
import { DatabaseUrlError, openIdempotencyAdmin, parseDatabaseUrl } from 'trpc-idempotency/admin';

parseDatabaseUrl('POSTGRES://db/app'); // { kind: 'postgres', connectionString: 'postgres://db/app' }
parseDatabaseUrl('file:data/app.db'); // { kind: 'sqlite', path: 'data/app.db' }
try {
  parseDatabaseUrl('mongodb://db/app');
} catch (error) {
  console.log(error instanceof DatabaseUrlError); // true: unsupported DATABASE_URL scheme "mongodb:" …
}

// Loads pg, better-sqlite3, @libsql/client or mysql2 only when needed; the database must have the records table.
const admin = await openIdempotencyAdmin(process.env.DATABASE_URL ?? 'file:data/app.db');
console.log(await admin.stats({ now: Date.now() })); // { total, inProgress, completed, … }
await admin.close();
