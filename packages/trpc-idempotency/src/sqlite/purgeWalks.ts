import { and, type SQL, sql } from 'drizzle-orm';
import type { BaseSQLiteDatabase } from 'drizzle-orm/sqlite-core';
import type { recordStatementParts } from '../drizzle/recordStatements';
import { purgeAt, idempotencyRecords as t } from './schema';

type PurgeParts = Pick<
  ReturnType<typeof recordStatementParts>,
  'p' | 'gone' | 'responseExpired' | 'dropResponseSet'
>;

/**
 * Purge's two walks on SQLite, whatever the driver (each prepares them its
 * way): delete up to `limit` gone records, and drop the responses of up to
 * `limit` tombstones (SPEC 3.7). Both go by the purge index (`purgeAt`,
 * schema.ts): every record either phase takes is due by then, so neither walk
 * grows with the table. Each is one statement, so one write lock: nothing can
 * claim a record between the choice and the change. By primary key, not rowid:
 * a table made by earlier versions is WITHOUT ROWID, and has none.
 */
export function purgeWalks<TKind extends 'sync' | 'async', TRunResult>(
  // biome-ignore lint/suspicious/noExplicitAny: any schema the user's database was made with.
  db: BaseSQLiteDatabase<TKind, TRunResult, any, any>,
  { p, gone, responseExpired, dropResponseSet }: PurgeParts,
) {
  const due = sql`${purgeAt(t)} <= ${p('now')}`;
  const firstDue = (which: SQL) =>
    and(
      which,
      sql`(${t.scope}, ${t.key}) IN (SELECT ${t.scope}, ${t.key} FROM ${t} WHERE ${due} AND ${which} LIMIT ${p('limit')})`,
    );
  return {
    deleteGone: db.delete(t).where(firstDue(gone)),
    dropResponses: db.update(t).set(dropResponseSet).where(firstDue(responseExpired)),
  };
}
