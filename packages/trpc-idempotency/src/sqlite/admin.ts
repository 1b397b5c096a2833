import Database from 'better-sqlite3';
import { and, count, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import type { IdempotencyAdmin } from '../admin/admin';
import { adminStatementParts, releaseDecision, statsFromRow } from '../drizzle/adminStatements';
import { recordFromRow } from '../drizzle/recordRow';
import { idempotencyRecords as t } from './schema';
import { sqliteIdempotencyStore } from './store';

/**
 * {@link IdempotencyAdmin} on a SQLite file. Purge is the store's own
 * (`sqliteIdempotencyStore(…).purge`), and what it counts as purgeable is the
 * store's "gone" condition: the command can never delete what the store keeps.
 * @see README.md#operations-cli
 */
export function sqliteIdempotencyAdmin(opts: { file: string }): IdempotencyAdmin {
  const client = new Database(opts.file, { fileMustExist: true });
  const db = drizzle(client);
  const tableExists = client
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'idempotency_records'")
    .get();
  if (!tableExists) {
    client.close();
    throw new Error(`${opts.file} has no idempotency_records table (run the migrations first)`);
  }
  // Admin work only: leave the application's pragmas as they are, except waiting for its locks.
  client.pragma('busy_timeout = 5000');
  const store = sqliteIdempotencyStore({ db, pragmas: false });
  const { gone, statsFields } = adminStatementParts(t);
  const stats = db.select(statsFields).from(t).prepare();
  const purgeable = db.select({ n: count() }).from(t).where(gone).prepare();

  return {
    async stats({ now }) {
      return statsFromRow(stats.get({ now })!);
    },
    async inspect(id) {
      const row = db
        .select()
        .from(t)
        .where(and(eq(t.scope, id.scope), eq(t.key, id.key)))
        .get();
      return row ? { ...recordFromRow(row), completedAt: row.completedAtMs } : undefined;
    },
    async countPurgeable({ now }) {
      return purgeable.get({ now })?.n ?? 0;
    },
    purgeBatch: ({ now, limit }) => store.purge({ now, limit }),
    async release({ scope, key, now, force }) {
      return db.transaction(
        (tx) => {
          const row = tx
            .select()
            .from(t)
            .where(and(eq(t.scope, scope), eq(t.key, key)))
            .get();
          const decision = releaseDecision(row, { now, force });
          if (decision !== 'release') return decision;
          tx.delete(t)
            .where(and(eq(t.scope, scope), eq(t.key, key), eq(t.owner, row!.owner)))
            .run();
          return 'released';
        },
        { behavior: 'immediate' },
      );
    },
    async close() {
      client.close();
    },
  };
}
