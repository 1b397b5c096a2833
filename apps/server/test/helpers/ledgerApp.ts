import { type LedgerAppOptions, openLedgerApp } from '../../src/app';

/**
 * The ledger app in this process on `databaseUrl` (a fresh database from
 * `useFreshDatabases`), with callers per user. `await using` closes it.
 */
export async function ledgerAppResource(opts: LedgerAppOptions & { databaseUrl: string }) {
  const app = await openLedgerApp(opts);
  return {
    app,
    databaseUrl: opts.databaseUrl,
    /** A server-side caller for `userId`; `null` is an anonymous request. */
    caller: (userId: string | null = 'alice') =>
      app.router.createCaller({ userId: userId ?? undefined }),
    /** Rows of a table, straight from the database. */
    async count(table: 'accounts' | 'transfers' | 'idempotency_records') {
      const query = `SELECT count(*) AS n FROM ${table}`;
      const { database } = app;
      if (database.kind === 'sqlite') {
        return (database.db.$client.prepare(query).get() as { n: number }).n;
      }
      if (database.kind === 'mysql') {
        const [rows] = await database.db.$client.query(query);
        return Number((rows as Array<{ n: number }>)[0]!.n);
      }
      if (database.driver === 'postgres.js') {
        return Number((await database.db.$client.unsafe<{ n: string }[]>(query))[0]!.n);
      }
      return Number((await database.db.$client.query<{ n: string }>(query)).rows[0]!.n);
    },
    async [Symbol.asyncDispose]() {
      await app.close();
    },
  };
}
