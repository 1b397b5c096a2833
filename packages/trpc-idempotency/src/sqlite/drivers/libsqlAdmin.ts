import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createClient } from '@libsql/client';
import { count } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/libsql';
import { adminStatementParts, releaseDecision, statsFromRow } from '../../drizzle/adminStatements';
import { type IdempotencyRecordRow, recordFromRow } from '../../drizzle/recordRow';
import { type IdempotencyAdmin, MAX_BATCH_SIZE } from '../../store/admin';
import { idempotencyRecords as t } from '../schema';
import { libsqlStore } from './libsql';

type AdminRow = IdempotencyRecordRow & { completedAtMs: number | null };

/**
 * {@link IdempotencyAdmin} on a libSQL database through `@libsql/client`: a
 * remote one (`libsql://…`, `https://…`, `wss://…`, with `?authToken=…`) or a
 * local file (`file:PATH`). Purge is the store's own, and what it counts as
 * purgeable is the store's own conditions: the command can never delete what
 * the store keeps. It takes scopes as records store them:
 * `openIdempotencyAdmin` hashes a long one.
 * @see README.md#operations-cli
 */
export async function libsqlIdempotencyAdmin(opts: {
  url: string;
  /** A `file:` URL: refuse a missing file rather than create an empty one. */
  mustExist?: boolean;
}): Promise<IdempotencyAdmin> {
  if (opts.mustExist && !existsSync(fileURLToPath(opts.url))) {
    throw new Error(`${fileURLToPath(opts.url)} does not exist`);
  }
  // A local file: wait for the application's locks (libSQL fails at once without a busy timeout).
  const client = createClient({ url: opts.url, timeout: 5000 });
  try {
    const tables = await client.execute(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'idempotency_records'",
    );
    if (tables.rows.length === 0) {
      throw new Error('the database has no idempotency_records table (run the migrations first)');
    }
  } catch (error) {
    client.close();
    throw error;
  }
  const db = drizzle({ client });
  // Admin work only: leave the application's journal mode as it is.
  const store = libsqlStore(db, {
    pragmas: false,
    purgeBatchSize: MAX_BATCH_SIZE,
  });
  const { purgeable: purgeableRows, byId, ownedById, statsFields } = adminStatementParts(t);
  const stats = db.select(statsFields).from(t).prepare();
  const purgeable = db.select({ n: count() }).from(t).where(purgeableRows).prepare();
  const find = db.select().from(t).where(byId).prepare();
  const rowOf = async (scope: string, key: string) =>
    (await find.get({ scope, key })) as AdminRow | undefined;

  return {
    async stats({ now }) {
      return statsFromRow((await stats.get({ now }))!);
    },
    async inspect({ scope, key }) {
      const row = await rowOf(scope, key);
      return row ? { ...recordFromRow(row), completedAt: row.completedAtMs } : undefined;
    },
    async countPurgeable({ now }) {
      return (await purgeable.get({ now }))?.n ?? 0;
    },
    purgeBatch: ({ now, limit }) => store.purge({ now, limit }),
    async release({ scope, key, now, force }) {
      // A write transaction: no claim or commit can change the record between the decision and the delete.
      return db.transaction(async (tx) => {
        const row = (await tx.select().from(t).where(byId).prepare().get({ scope, key })) as
          | AdminRow
          | undefined;
        const decision = releaseDecision(row, { now, force });
        if (decision !== 'release') return decision;
        await tx
          .delete(t)
          .where(ownedById)
          .prepare()
          .run({ scope: row!.scope, key, owner: row!.owner });
        return 'released' as const;
      });
    },
    async close() {
      client.close();
    },
  };
}
