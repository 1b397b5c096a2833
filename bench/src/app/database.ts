import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import {
  type inferSqliteTransaction,
  migrateSqliteIdempotencyStore,
  type SqliteIdempotencyStore,
  sqliteIdempotencyStore,
} from 'trpc-idempotency/sqlite';
import * as schema from './schema';
import { LEDGER_DDL } from './schema';

/** The bench's Drizzle database: the ledger tables and the idempotency table in one file. */
export type BenchDatabase = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

/** The two accounts every transfer moves money between. */
export const PAYER = 'acc_payer';
export const PAYEE = 'acc_payee';

/** A temp-file database, as `openBenchDatabase` returns it; disposing it deletes the file. */
export interface OpenBenchDatabase extends Disposable {
  file: string;
  db: BenchDatabase;
  store: SqliteIdempotencyStore<inferSqliteTransaction<BenchDatabase>>;
}

/**
 * A fresh SQLite file in a temp folder, set up as the ledger server sets up
 * its own: foreign keys on, ledger tables, the shipped idempotency migration,
 * then the store (which applies WAL, `synchronous = NORMAL` and a busy
 * timeout to the one connection every variant shares). Two accounts are open;
 * the payer holds enough for any run. `seed` loads bulk data before that.
 */
export function openBenchDatabase(
  label: string,
  opts: {
    /** Bulk data to load after the migrations, before WAL and the store (runs unsynced). */
    seed?: (client: Database.Database) => void;
  } = {},
): OpenBenchDatabase {
  const dir = mkdtempSync(join(tmpdir(), `trpc-idempotency-bench-${label}-`));
  const file = join(dir, 'bench.db');
  const client = new Database(file);
  client.pragma('foreign_keys = ON');
  const db = drizzle(client, { schema });
  client.exec(LEDGER_DDL);
  migrateSqliteIdempotencyStore(db);
  if (opts.seed) {
    client.pragma('synchronous = OFF');
    opts.seed(client);
  }
  const store = sqliteIdempotencyStore({ db });
  const open = client.prepare('INSERT INTO accounts (id, owner, balance) VALUES (?, ?, ?)');
  client.transaction(() => {
    open.run(PAYER, 'payer', 1_000_000_000_000);
    open.run(PAYEE, 'payee', 0);
  })();
  return {
    file,
    db,
    store,
    [Symbol.dispose]() {
      client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
