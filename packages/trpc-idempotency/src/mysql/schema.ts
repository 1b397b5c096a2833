import { customType, index, int, mysqlTable, primaryKey } from 'drizzle-orm/mysql-core';

/**
 * Text in `utf8mb4` with the binary collation, whatever the server's or the
 * database's defaults are (MariaDB's default character set is `latin1`):
 * keys compare byte for byte, so `Key-1` and `key-1` are two keys, as they
 * are on SQLite and Postgres, and any response text is stored as it is.
 */
const utf8 = <TData extends string>(type: string) =>
  customType<{ data: TData; driverData: string }>({
    dataType: () => `${type} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`,
  });

const bigintMs = customType<{ data: number; driverData: string | number }>({
  dataType: () => 'bigint',
  // mysql2 answers BIGINT as a number unless the pool asks for strings (`bigNumberStrings`).
  fromDriver: (value) => Number(value),
});

/**
 * The idempotency records table for MySQL 8.0+ and MariaDB 10.11+: the same
 * columns as the SQLite and Postgres tables, instants as `bigint` epoch
 * milliseconds. The primary key's columns have bounded lengths, as an InnoDB
 * key needs: a scope is at most 200 UTF-8 bytes as stored (a longer one is
 * stored as its SHA-256), a key at most 255 characters (the longest key
 * format the store accepts). Export it into your own drizzle-kit schema, or
 * apply the shipped migrations with `migrateMysqlIdempotencyStore`.
 * @see README.md#mysql
 */
export const idempotencyRecords = mysqlTable(
  'idempotency_records',
  {
    scope: utf8('varchar(200)')('scope').notNull(),
    key: utf8('varchar(255)')('key').notNull(),
    path: utf8('text')('path').notNull(),
    fingerprint: utf8('text')('fingerprint').notNull(),
    state: utf8<'in_progress' | 'completed'>('varchar(16)')('state').notNull(),
    owner: utf8('text')('owner').notNull(),
    attempt: int('attempt').notNull(),
    leaseExpiresAtMs: bigintMs('lease_expires_at_ms').notNull(),
    expiresAtMs: bigintMs('expires_at_ms').notNull(),
    createdAtMs: bigintMs('created_at_ms').notNull(),
    completedAtMs: bigintMs('completed_at_ms'),
    outcomeKind: utf8<'result' | 'error'>('varchar(8)')('outcome_kind'),
    // LONGTEXT: a response may be larger than TEXT's 64 KiB (maxResponseBytes, 1 MiB by default).
    response: utf8('longtext')('response'),
    /** Lease mode: JSON of the finished steps (recovery points) of an in-progress record. */
    steps: utf8('longtext')('steps'),
    /**
     * A completed record's response replays until then; after it, until
     * `expires_at_ms`, the record is a tombstone (no response, the key still
     * bound). Purge drops the response and clears this, so its index holds only
     * responses still to drop. Null: the response lives until `expires_at_ms`.
     */
    responseExpiresAtMs: bigintMs('response_expires_at_ms'),
    /** W3C `traceparent` of the execution that stored the outcome (replays link their spans to it). */
    traceContext: utf8('text')('trace_context'),
  },
  (table) => [
    // Also the unique index a concurrent duplicate's insert blocks on (README.md#mysql).
    primaryKey({ columns: [table.scope, table.key] }),
    // Purge walks expired records by this index, so its cost does not grow with the table.
    index('idempotency_records_expires_at_idx').on(table.expiresAtMs),
    // Purge walks responses past their TTL (tombstones to be) by this one.
    index('idempotency_records_response_expires_at_idx').on(table.responseExpiresAtMs),
  ],
);

/** A row of {@link idempotencyRecords}. */
export type MysqlIdempotencyRow = typeof idempotencyRecords.$inferSelect;
