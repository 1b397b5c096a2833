import { hash } from 'node:crypto';

/** Longest scope stored as it is, in UTF-8 bytes: short enough for any index row. */
const MAX_PLAIN_SCOPE_BYTES = 200;
const HASHED_PREFIX = 'sha256:';

/**
 * The scope as records store it. Any length works the same on every store: a
 * scope longer than 200 UTF-8 bytes (a Postgres B-tree row holds about 2 700)
 * is stored as the SHA-256 of it. So is any scope that starts with `sha256:`,
 * so a caller who controls the scope cannot name another scope's hash.
 * @see README.md#scope-and-security
 */
export function recordScope(scope: string): string {
  const plain =
    !scope.startsWith(HASHED_PREFIX) &&
    // A UTF-16 unit is at most 3 UTF-8 bytes: count exactly only when it might matter.
    (scope.length * 3 <= MAX_PLAIN_SCOPE_BYTES ||
      Buffer.byteLength(scope) <= MAX_PLAIN_SCOPE_BYTES);
  return plain ? scope : `${HASHED_PREFIX}${hash('sha256', scope, 'base64url')}`;
}
