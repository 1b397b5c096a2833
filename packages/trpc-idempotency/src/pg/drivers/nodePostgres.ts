import { fillPlaceholders, type Query, sql } from 'drizzle-orm';
import { endedByStore } from '../../drizzle/ownCommit';
import { type AnyPgDatabase, clientOf, type PgDriver, sessionKind } from './driver';

// Session advisory lock id: "trpcidem" in ASCII, as a bigint.
const MIGRATION_LOCK_ID = '8390892628016915821';

/** The part of a `pg.Pool` (or a pg-compatible pool) the store relies on. */
interface PoolLike {
  connect(): Promise<PoolClientLike>;
  totalCount: number;
  idleCount: number;
}
interface PoolClientLike {
  query(text: string, values?: unknown[]): Promise<unknown>;
  release(error?: Error): void;
}

/**
 * node-postgres: a Drizzle database (`drizzle-orm/node-postgres`) on a
 * `pg.Pool`, or on a pool that is a drop-in replacement for it (Neon's
 * serverless `Pool`).
 *
 * The end of a transactional execution costs one round trip: the record's
 * statements and `COMMIT` go as one simple-protocol message (which allows
 * several statements but no parameters, so the values are written as
 * literals). Drizzle's own `COMMIT`, which would follow with nothing left to
 * commit, is answered without a round trip (`endedByStore`).
 */
export const nodePostgres: PgDriver = {
  name: 'node-postgres',
  matches: (db) => sessionKind(db) === 'NodePgSession',
  changedRows: (result) => (result as { rowCount?: number | null }).rowCount ?? 0,
  recordCommit(queries) {
    const deleteReplaceable = inlinable(queries.deleteReplaceable);
    const insertCompleted = inlinable(queries.insertCompleted);
    return (db, work, { waitMs }) =>
      new Promise((resolve, reject) => {
        let committed = false;
        db.transaction(async (tx) => {
          const { result, record } = await work(tx);
          // A key held by a live record fails the INSERT, so COMMIT never runs.
          await tx.execute(
            sql.raw(
              `SET LOCAL lock_timeout = ${waitMs}; ${deleteReplaceable(record)}; ${insertCompleted(record)}; COMMIT`,
            ),
          );
          committed = true;
          endedByStore(tx);
          resolve(result);
        }).catch((error: unknown) => {
          // Committed already: only what Drizzle did after it failed; nothing is lost.
          if (!committed) reject(error);
        });
      });
  },
  async migrate(db, config) {
    const client = clientOf(db) as PoolLike | PoolClientLike;
    // Loaded here: `drizzle-orm/node-postgres` loads `pg`, which other drivers' users lack.
    const [{ drizzle }, { migrate }] = await Promise.all([
      import('drizzle-orm/node-postgres'),
      import('drizzle-orm/node-postgres/migrator'),
    ]);
    // One connection for the lock and the migration, so even a pool of one cannot deadlock.
    const borrowed = isPool(client) ? await client.connect() : undefined;
    const connection = borrowed ?? (client as PoolClientLike);
    try {
      await connection.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      try {
        await migrate(drizzle({ client: connection as never }), config);
      } finally {
        await connection.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
      }
    } finally {
      borrowed?.release();
    }
  },
};

/** A pool: transactions need connections of their own while other requests use the rest. */
export function isPool(client: unknown): client is PoolLike {
  return (
    typeof client === 'object' &&
    client !== null &&
    'totalCount' in client &&
    'idleCount' in client &&
    typeof (client as { connect?: unknown }).connect === 'function'
  );
}

/** Whether `db` is node-postgres on something else than a pool (a `pg.Client`). */
export function isNodePostgresClient(db: AnyPgDatabase) {
  return sessionKind(db) === 'NodePgSession' && !isPool(clientOf(db));
}

/**
 * A statement Drizzle built, turned into a function of its placeholder values
 * that returns SQL text with every parameter written as a literal: text
 * escaped as `pg.escapeLiteral` does (correct whatever
 * `standard_conforming_strings` says), numbers only when they are safe integers.
 */
function inlinable(query: Query): (values: Record<string, unknown>) => string {
  const parts = query.sql.split(/\$(\d+)/);
  return (values) => {
    const params = fillPlaceholders(query.params, values);
    let text = '';
    for (let i = 0; i < parts.length; i++) {
      text += i % 2 === 0 ? parts[i] : literal(params[Number(parts[i]) - 1]);
    }
    return text;
  };
}

function literal(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return escapeLiteral(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  throw new TypeError(`cannot write ${typeof value} ${String(value)} as a SQL literal`);
}

/** `pg.escapeLiteral`: quotes doubled; with a backslash, an E'' string with backslashes doubled. */
export function escapeLiteral(text: string): string {
  const quoted = `'${text.replaceAll("'", "''").replaceAll('\\', '\\\\')}'`;
  return text.includes('\\') ? ` E${quoted}` : quoted;
}

/** A pool of two connections on `url` as a Drizzle database (the operations CLI's). */
export async function connectNodePostgres(url: string) {
  const [{ default: pg }, { drizzle }] = await Promise.all([
    import('pg'),
    import('drizzle-orm/node-postgres'),
  ]);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  // An idle connection that fails (the server restarts) must not crash the command.
  pool.on('error', () => {});
  return { db: drizzle({ client: pool }) as AnyPgDatabase, close: () => pool.end() };
}
