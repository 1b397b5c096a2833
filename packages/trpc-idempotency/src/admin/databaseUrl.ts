/**
 * The database a `DATABASE_URL` names: a SQLite file, or a Postgres
 * connection string.
 * @see README.md#operations-cli
 */
export type DatabaseTarget =
  | {
      kind: 'sqlite';
      /** The file as written (relative to the current directory unless absolute), or `:memory:`. */
      path: string;
    }
  | {
      kind: 'postgres';
      /** The URL with its scheme in lower case, for node-postgres. */
      connectionString: string;
    };

/**
 * A `DATABASE_URL` that names no database this package can open; the message
 * says why and what is accepted. The CLI exits with code 2 (usage error).
 * @see README.md#operations-cli
 */
export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
}

const ACCEPTED = 'use postgres://…, postgresql://…, file:PATH or a plain path';
// `word:` at the start. One letter is a Windows drive (`C:\data\app.db`), not a scheme.
const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]+):/;

/**
 * Reads a `DATABASE_URL` the way the `trpc-idempotency` command and the
 * example ledger server both do:
 *
 * - `postgres://…` or `postgresql://…` (scheme in any case) is Postgres;
 * - `file:PATH`, `file:///ABSOLUTE/PATH` or a plain path is a SQLite file;
 * - anything else is a {@link DatabaseUrlError}: another scheme (`mysql://…`,
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

/** The URL without its password, for error messages. */
function redact(url: string) {
  return url.replace(/^([^:/]+:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
