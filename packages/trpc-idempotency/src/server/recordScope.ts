import { hash } from 'node:crypto';

/** Longest scope stored as it is, in UTF-8 bytes: short enough for any index row. */
const MAX_PLAIN_SCOPE_BYTES = 200;
const HASHED_PREFIX = 'sha256:';
/** The form {@link recordScope} gives a hashed scope: `sha256:` and 43 base64url characters. */
const HASHED_FORM = /^sha256:[A-Za-z0-9_-]{43}$/;
/** A UTF-16 surrogate without its other half: UTF-8 (hashing, Postgres, SQLite) would turn it into U+FFFD. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/**
 * Put before the UTF-16 code units of an ill-formed scope when it is hashed:
 * the byte 0xFF occurs in no UTF-8 text, so no well-formed scope (hashed as
 * UTF-8) can hash the same bytes.
 */
const UTF16_MARK = Buffer.from([0xff]);

/**
 * The scope as records store it. Any length works the same on every store: a
 * scope longer than 200 UTF-8 bytes (a Postgres B-tree row holds about 2 700)
 * is stored as the SHA-256 of it. So is any scope that starts with `sha256:`,
 * so a caller who controls the scope cannot name another scope's hash, and
 * any scope that is not well-formed UTF-16 (a lone surrogate, as `"acme\ud800"`):
 * stored as text it would become `"acme\ufffd"` and share that scope's
 * records, so it is hashed from its UTF-16 code units instead, losslessly.
 * @see README.md#scope-and-security
 */
export function recordScope(scope: string): string {
  if (LONE_SURROGATE.test(scope)) {
    return `${HASHED_PREFIX}${hash('sha256', hashableText(scope), 'base64url')}`;
  }
  const plain =
    !scope.startsWith(HASHED_PREFIX) &&
    // A UTF-16 unit is at most 3 UTF-8 bytes: count exactly only when it might matter.
    (scope.length * 3 <= MAX_PLAIN_SCOPE_BYTES ||
      Buffer.byteLength(scope) <= MAX_PLAIN_SCOPE_BYTES);
  return plain ? scope : `${HASHED_PREFIX}${hash('sha256', scope, 'base64url')}`;
}

/**
 * `text` as the bytes to hash without merging any two strings: a well-formed
 * string as itself (hashed as UTF-8, so existing hashes stay), an ill-formed
 * one as 0xFF and its UTF-16 code units, which no UTF-8 text can equal.
 */
export function hashableText(text: string): string | Buffer {
  return LONE_SURROGATE.test(text)
    ? Buffer.concat([UTF16_MARK, Buffer.from(text, 'utf16le')])
    : text;
}

/**
 * The stored scope an operator means (the admin API, the CLI): a scope in
 * the hashed form records store and the CLI prints (`sha256:` and 43
 * base64url characters) is that stored scope, as printed; any other is the
 * scope your builder's `scope` option returns, stored as {@link recordScope}
 * stores it. (A scope of your builder's that itself looks like a hash is
 * stored hashed again, so it is named by the hash the CLI prints for it.)
 * @see README.md#operations-cli
 */
export function operatorScope(scope: string): string {
  return HASHED_FORM.test(scope) ? scope : recordScope(scope);
}
