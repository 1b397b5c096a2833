/**
 * A database URL without its password, safe to log (`postgres://user@host:port/db`).
 * A module of its own, so that the MySQL side need not load the Postgres driver for it.
 */
export function withoutPassword(url: string) {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}
