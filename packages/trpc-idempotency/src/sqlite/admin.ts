import Database from 'better-sqlite3';
import { count } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { adminStatementParts, releaseDecision, statsFromRow } from '../drizzle/adminStatements';
import { type IdempotencyRecordRow, recordFromRow } from '../drizzle/recordRow';
import { type IdempotencyAdmin, MAX_BATCH_SIZE } from '../store/admin';
import { idempotencyRecords as t } from './schema';
import { sqliteIdempotencyStore } from './store';

/**
 * {@link IdempotencyAdmin} on a SQLite file. Purge is the store's own
 * (`sqliteIdempotencyStore(…).purge`), and what it counts as purgeable is the
 * store's own conditions ("gone", and responses past their TTL): the command
 * can never delete what the store keeps.
 * It takes scopes as records store them: `openIdempotencyAdmin` hashes a long one.
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
  const store = sqliteIdempotencyStore({ db, pragmas: false, purgeBatchSize: MAX_BATCH_SIZE });
  const { purgeable: purgeableRows, byId, ownedById, statsFields } = adminStatementParts(t);
  const stats = db.select(statsFields).from(t).prepare();
  const purgeable = db.select({ n: count() }).from(t).where(purgeableRows).prepare();
  const find = db.select().from(t).where(byId).prepare();
  const remove = db.delete(t).where(ownedById).prepare();
  const rowOf = (scope: string, key: string) =>
    find.get({ scope, key }) as
      | (IdempotencyRecordRow & { completedAtMs: number | null })
      | undefined;

  return {
    async stats({ now }) {
      return statsFromRow(stats.get({ now })!);
    },
    async inspect({ scope, key }) {
      const row = rowOf(scope, key);
      return row ? { ...recordFromRow(row), completedAt: row.completedAtMs } : undefined;
    },
    async countPurgeable({ now }) {
      return purgeable.get({ now })?.n ?? 0;
    },
    purgeBatch: ({ now, limit }) => store.purge({ now, limit }),
    async release({ scope, key, now, force }) {
      // Immediate: no claim or commit can change the record between the decision and the delete.
      return db.transaction(
        () => {
          const row = rowOf(scope, key);
          const decision = releaseDecision(row, { now, force });
          if (decision !== 'release') return decision;
          remove.run({ scope: row!.scope, key, owner: row!.owner });
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
