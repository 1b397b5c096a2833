/**
 * What the MySQL store needs from mysql2 beyond Drizzle: telling a pool from
 * other clients, whether the pool sends several statements in one query, the
 * connection a Drizzle transaction runs on, and the error codes it answers.
 */

/** The mysql2 connection options the store reads (the same on a callback and a promise pool). */
interface ConnectionConfig {
  multipleStatements?: boolean;
}

/** A mysql2 pool, callback (`mysql2`) or promise (`mysql2/promise`) flavour. */
export interface AnyMysql2Pool {
  getConnection: unknown;
}

const SUPPORTED =
  'a Drizzle database on a mysql2 Pool (drizzle-orm/mysql2 with mysql.createPool(…) or a connection URL)';

/**
 * The pool's connection options, or a TypeError naming what is supported:
 * transactions need connections of their own (a single mysql2 Connection
 * would run other requests' statements inside them), and the HTTP drivers
 * (PlanetScale serverless, TiDB serverless) have no interactive transactions
 * to hold a handler's writes and the record together.
 */
export function poolConfig(caller: string, client: unknown): ConnectionConfig {
  const core = (
    client !== null && typeof client === 'object' && 'pool' in client ? client.pool : client
  ) as { config?: { connectionConfig?: ConnectionConfig }; getConnection?: unknown } | null;
  const config = core?.config?.connectionConfig;
  if (typeof core?.getConnection !== 'function' || !config) {
    throw new TypeError(
      `${caller} needs ${SUPPORTED}: ${describe(client)} is not one. A single mysql2 Connection would run other requests' statements inside a transaction, and HTTP drivers such as PlanetScale's or TiDB's serverless ones have no interactive transactions.`,
    );
  }
  return config;
}

function describe(client: unknown) {
  if (client === null || typeof client !== 'object') return `a ${typeof client}`;
  const name = client.constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'this client';
}

/**
 * The mysql2 connection a Drizzle transaction runs on (the store remembers
 * per connection what it set there), or undefined if Drizzle's layout
 * changed: then the store simply sets it every time.
 */
export function transactionConnection(tx: unknown): object | undefined {
  const client = (tx as { session?: { client?: { connection?: unknown } } }).session?.client;
  const connection = client?.connection ?? client;
  return typeof connection === 'object' && connection !== null ? connection : undefined;
}

export const ER_DUP_ENTRY = 1062;
export const ER_LOCK_WAIT_TIMEOUT = 1205;
export const ER_LOCK_DEADLOCK = 1213;

/**
 * Drizzle wraps driver errors (and the executor a handler's throws, in an
 * `error` field): the mysql2 error with this number along that chain, if any.
 */
export function driverError(error: unknown, errno: number): boolean {
  for (let at = error, depth = 0; at && depth < 6; depth++) {
    if (typeof at !== 'object') return false;
    if ((at as { errno?: unknown }).errno === errno) return true;
    at = (at as { cause?: unknown }).cause ?? (at as { error?: unknown }).error;
  }
  return false;
}

/**
 * How many rows an UPDATE matched. mysql2 asks for "found rows" by default,
 * so `affectedRows` counts matched rows; a pool that turned the flag off
 * counts changed rows there, so the server's "Rows matched" note decides.
 */
export function matchedRows(header: { affectedRows: number; info?: string }): number {
  const matched = header.info && /Rows matched:\s*(\d+)/.exec(header.info)?.[1];
  return matched ? Number(matched) : header.affectedRows;
}
