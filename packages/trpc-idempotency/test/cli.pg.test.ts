import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/runCli';
import { idempotencyRecords, pgIdempotencyStore } from '../src/pg';
import { cliDatabaseCases, runCliCaptured } from './helpers/cli';
import { type PgTestDb, usePostgresDatabase } from './stores/postgres';

const postgres = usePostgresDatabase();
let db: PgTestDb | undefined;

describe('trpc-idempotency CLI on Postgres (DATABASE_URL=postgres://…)', () => {
  cliDatabaseCases(async () => {
    db ??= postgres.connect({ max: 2 });
    await db.execute(sql`TRUNCATE idempotency_records`);
    const count = async () => {
      const { rows } = await db!.$client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM idempotency_records',
      );
      return rows[0]!.n;
    };
    return { url: postgres.url(), store: pgIdempotencyStore({ db }), countRecords: count };
  });

  it('refuses an unknown TRPC_IDEMPOTENCY_PG_DRIVER as a usage error', async () => {
    const result = await runCliCaptured(['stats'], {
      databaseUrl: postgres.url(),
      env: { TRPC_IDEMPOTENCY_PG_DRIVER: 'pglite' },
    });
    expect(result).toMatchObject({
      code: EXIT.usage,
      stderr: expect.stringMatching(
        /TRPC_IDEMPOTENCY_PG_DRIVER must be node-postgres or postgres\.js; got "pglite"/,
      ),
    });
  });

  it('opens Postgres whatever the case of the scheme (POSTGRES://, PostgreSQL://)', async () => {
    const url = postgres.url();
    for (const scheme of ['POSTGRES', 'PostgreSQL']) {
      const result = await runCliCaptured(['stats', '--json'], {
        databaseUrl: url.replace(/^postgres(ql)?/, scheme),
      });
      expect(result, scheme).toMatchObject({ code: EXIT.ok, stderr: '' });
      expect(JSON.parse(result.stdout)).toHaveProperty('total');
    }
  });

  it('refuses --batch-size 1e20 as a usage error before touching the database', async () => {
    const result = await runCliCaptured(['purge', '--batch-size', '1e20'], {
      databaseUrl: postgres.url(),
    });
    expect(result).toMatchObject({
      code: EXIT.usage,
      stderr: expect.stringMatching(/--batch-size must be a whole number from 1 to 1000000/),
    });
  });

  it.each(['node-postgres', 'postgres.js'])(
    'says which server it cannot reach, with the unavailable exit code (%s)',
    async (driver) => {
      const result = await runCliCaptured(['stats'], {
        databaseUrl: 'postgres://nobody@127.0.0.1:1/nothing',
        env: { TRPC_IDEMPOTENCY_PG_DRIVER: driver },
      });
      expect(result.code).toBe(EXIT.unavailable);
      expect(result.stderr).toMatch(/127\.0\.0\.1:1|ECONNREFUSED|connect/);
    },
  );
});

describe('trpc-idempotency CLI on Postgres through postgres.js (TRPC_IDEMPOTENCY_PG_DRIVER=postgres.js)', () => {
  cliDatabaseCases(async () => {
    db ??= postgres.connect({ max: 2 });
    await db.execute(sql`TRUNCATE idempotency_records`);
    const count = () => db!.$count(idempotencyRecords);
    // The records written through postgres.js too, as an app on it would.
    const appDb = postgres.connectPostgresJs({ max: 2 });
    return {
      url: postgres.url(),
      store: pgIdempotencyStore({ db: appDb }),
      countRecords: count,
      env: { TRPC_IDEMPOTENCY_PG_DRIVER: 'postgres.js' },
    };
  });
});
