import { type SQL, sql } from 'drizzle-orm';
import {
  index,
  integer,
  primaryKey,
  type SQLiteColumn,
  sqliteTable,
  text,
} from 'drizzle-orm/sqlite-core';

/**
 * The idempotency records table for SQLite. Export it into your own
 * drizzle-kit schema, or apply the shipped migrations with
 * `migrateSqliteIdempotencyStore`. All instants are epoch milliseconds.
 *
 * An ordinary rowid table: keys arrive in random order (UUIDs), and a
 * `WITHOUT ROWID` table keeps whole rows, responses included, in its
 * primary-key B-tree, so every insert splits and rewrites fat leaves; measured
 * at 10^6 records, a first execution's commit cost a fifth more that way, for
 * no faster lookups. (Tables made `WITHOUT ROWID` by earlier versions keep
 * working.) The shipped statements are edited to create only what is missing
 * (`IF NOT EXISTS`), so the package's migrations and yours can meet on one
 * database (README.md#migrations).
 * @see README.md#storage
 */
export const idempotencyRecords = sqliteTable(
  'idempotency_records',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    path: text('path').notNull(),
    fingerprint: text('fingerprint').notNull(),
    state: text('state', { enum: ['in_progress', 'completed'] }).notNull(),
    owner: text('owner').notNull(),
    attempt: integer('attempt').notNull(),
    leaseExpiresAtMs: integer('lease_expires_at_ms').notNull(),
    expiresAtMs: integer('expires_at_ms').notNull(),
    createdAtMs: integer('created_at_ms').notNull(),
    completedAtMs: integer('completed_at_ms'),
    outcomeKind: text('outcome_kind', { enum: ['result', 'error'] }),
    response: text('response'),
    /** Lease mode: JSON of the finished steps (recovery points) of an in-progress record. */
    steps: text('steps'),
    /**
     * A completed record's response replays until then; after it, until
     * `expires_at_ms`, the record is a tombstone (no response, the key still
     * bound). Purge drops the response and clears this, so its index holds only
     * responses still to drop. Null: the response lives until `expires_at_ms`.
     */
    responseExpiresAtMs: integer('response_expires_at_ms'),
    /** W3C `traceparent` of the execution that stored the outcome (replays link their spans to it). */
    traceContext: text('trace_context'),
  },
  (table) => [
    primaryKey({ columns: [table.scope, table.key] }),
    // Purge's one walk, so its cost does not grow with the table: the instant
    // purge next has work on a record (dropping its response, else deleting
    // it), never after its expiry. One index, where one on each instant wrote
    // one more B-tree page per completed record (BENCHMARKS.md).
    index('idempotency_records_purge_at_idx').on(purgeAt(table)),
  ],
);

/**
 * When purge next has work on a record: its response's end while it has one
 * (a tombstone to be), else its own end; never later than its expiry. What
 * `idempotency_records_purge_at_idx` indexes, and what purge's statements
 * walk it by: written once, so the two cannot drift apart (SQLite uses an
 * index on an expression only for that very expression).
 */
export function purgeAt(table: {
  responseExpiresAtMs: SQLiteColumn;
  expiresAtMs: SQLiteColumn;
}): SQL {
  // No commas (min, coalesce): drizzle-kit splits an index expression at them.
  return sql`(CASE WHEN ${table.responseExpiresAtMs} < ${table.expiresAtMs} THEN ${table.responseExpiresAtMs} ELSE ${table.expiresAtMs} END)`;
}

/** A row of {@link idempotencyRecords}. */
export type SqliteIdempotencyRow = typeof idempotencyRecords.$inferSelect;
