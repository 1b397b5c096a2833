import { bigint, index, integer, pgTable, primaryKey, text } from 'drizzle-orm/pg-core';

/**
 * The idempotency records table for Postgres: the same columns as the SQLite
 * table, instants as `bigint` epoch milliseconds. Export it into your own
 * drizzle-kit schema, or apply the shipped migrations with
 * `migratePgIdempotencyStore`.
 * @see README.md#postgres
 */
export const idempotencyRecords = pgTable(
  'idempotency_records',
  {
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    path: text('path').notNull(),
    fingerprint: text('fingerprint').notNull(),
    state: text('state', { enum: ['in_progress', 'completed'] }).notNull(),
    owner: text('owner').notNull(),
    attempt: integer('attempt').notNull(),
    leaseExpiresAtMs: bigint('lease_expires_at_ms', { mode: 'number' }).notNull(),
    expiresAtMs: bigint('expires_at_ms', { mode: 'number' }).notNull(),
    createdAtMs: bigint('created_at_ms', { mode: 'number' }).notNull(),
    completedAtMs: bigint('completed_at_ms', { mode: 'number' }),
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
    responseExpiresAtMs: bigint('response_expires_at_ms', { mode: 'number' }),
    /** W3C `traceparent` of the execution that stored the outcome (replays link their spans to it). */
    traceContext: text('trace_context'),
  },
  (table) => [
    // Also the unique index a concurrent duplicate's insert blocks on (README.md#postgres).
    primaryKey({ columns: [table.scope, table.key] }),
    // Purge walks expired records by this index, so its cost does not grow with the table.
    index('idempotency_records_expires_at_idx').on(table.expiresAtMs),
    // Purge walks responses past their TTL (tombstones to be) by this one.
    index('idempotency_records_response_expires_at_idx').on(table.responseExpiresAtMs),
  ],
);

/** A row of {@link idempotencyRecords}. */
export type PgIdempotencyRow = typeof idempotencyRecords.$inferSelect;
