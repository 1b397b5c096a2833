/**
 * The database a `DATABASE_URL` names: a SQLite file, a remote libSQL
 * database, a Postgres connection string, or a MySQL (or MariaDB) one.
 * @see README.md#operations-cli
 */
export type DatabaseTarget =
  | {
      kind: 'sqlite';
      /** The file as written (relative to the current directory unless absolute), or `:memory:`. */
      path: string;
    }
  | {
      kind: 'libsql';
      /**
       * The URL for `@libsql/client`'s `createClient({ url })`, scheme in lower
       * case: `libsql://`, `https://`, `http://`, `wss://` or `ws://`, its
       * `?authToken=…` included.
       */
      url: string;
    }
  | {
      kind: 'postgres';
      /** The URL with its scheme in lower case, for node-postgres. */
      connectionString: string;
    }
  | {
      kind: 'mysql';
      /** The URL with its scheme in lower case, for mysql2 (`uri`). */
      uri: string;
    };

/**
 * A `DATABASE_URL` that names no database this package can open; the message
 * says why and what is accepted. The CLI exits with code 2 (usage error).
 * @see README.md#operations-cli
 */
export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
}

const ACCEPTED =
  'use postgres://…, postgresql://…, libsql://…, mysql://…, file:PATH or a plain path';
/** The URL schemes of a remote libSQL database (sqld, Turso), as `@libsql/client` reads them. */
const LIBSQL_SCHEMES = new Set(['libsql', 'https', 'http', 'wss', 'ws']);
// `word:` at the start. One letter is a Windows drive (`C:\data\app.db`), not a scheme.
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]+):/;

/**
 * Reads a `DATABASE_URL` the way the `trpc-idempotency` command and the
 * example ledger server both do:
 *
 * - `postgres://…` or `postgresql://…` (scheme in any case) is Postgres;
 * - `libsql://…` (Turso), `https://…`, `http://…`, `wss://…` or `ws://…` is a
 *   remote libSQL database (sqld), its token as `?authToken=…`;
 * - `mysql://…` is MySQL or MariaDB (the database is the URL's path);
 * - `file:PATH`, `file:///ABSOLUTE/PATH` or a plain path is a SQLite file
 *   (read by better-sqlite3, or by libSQL where better-sqlite3 is not installed);
 * - anything else is a {@link DatabaseUrlError}: another scheme (`mariadb://…`,
 *   `sqlite://…`, `postgres:db` without `//`), a `file://host/…` URL, an
 *   empty value, or one with spaces around it. A file whose name starts with
 *   `word:` is written `./word:…` or `file:word:…`.
 * @see README.md#operations-cli
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url.trim() === '') throw new DatabaseUrlError('DATABASE_URL is empty');
  if (url.trim() !== url) {
    throw new DatabaseUrlError('DATABASE_URL has spaces around it: remove them');
  }
  const scheme = SCHEME.exec(url)?.[1];
  if (scheme === undefined) return { kind: 'sqlite', path: url };
  const lower = scheme.toLowerCase();
  const rest = url.slice(scheme.length + 1);
  if ((lower === 'postgres' || lower === 'postgresql') && rest.startsWith('//')) {
    return { kind: 'postgres', connectionString: `${lower}:${rest}` };
  }
  if (LIBSQL_SCHEMES.has(lower) && rest.startsWith('//')) {
    return { kind: 'libsql', url: `${lower}:${rest}` };
  }
  if (lower === 'mysql' && rest.startsWith('//')) return { kind: 'mysql', uri: `${lower}:${rest}` };
  if (lower === 'file') return { kind: 'sqlite', path: filePath(url, rest) };
  throw new DatabaseUrlError(
    `unsupported DATABASE_URL scheme "${scheme}:" in ${JSON.stringify(redact(url))}: ${ACCEPTED}`,
  );
}

/** `file:PATH` is PATH; `file:///PATH` is `/PATH`; `file://host/…` names another machine. */
function filePath(url: string, rest: string) {
  let path = rest;
  if (rest.startsWith('//')) {
    if (!rest.startsWith('///')) {
      throw new DatabaseUrlError(
        `DATABASE_URL ${JSON.stringify(url)} names a host: write file:///ABSOLUTE/PATH or file:RELATIVE/PATH`,
      );
    }
    path = rest.slice(2);
  }
  if (path === '') throw new DatabaseUrlError('DATABASE_URL file: names no file');
  return path;
}

/** The URL without its password or libSQL token, for error messages. */
export function redact(url: string) {
  return url
    .replace(/^([^:/]+:\/\/[^:@/]*):[^@/]*@/, '$1:***@')
    .replace(/([?&]authToken=)[^&#]*/gi, '$1***');
}
