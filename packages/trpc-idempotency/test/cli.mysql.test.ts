import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/runCli';
import { mysqlIdempotencyStore } from '../src/mysql';
import { cliDatabaseCases, runCliCaptured } from './helpers/cli';
import { type MysqlTestDb, useMysqlDatabase } from './stores/mariadb';

const database = useMysqlDatabase();
let db: MysqlTestDb | undefined;

describe('trpc-idempotency CLI on MySQL (DATABASE_URL=mysql://…, a real MariaDB)', () => {
  cliDatabaseCases(async () => {
    db ??= database.connect({ connectionLimit: 2 });
    await db.execute(sql`DELETE FROM idempotency_records`);
    const count = async () => {
      const [rows] = (await db!.execute(
        sql`SELECT count(*) AS n FROM idempotency_records`,
      )) as unknown as [{ n: number }[]];
      return Number(rows[0]!.n);
    };
    return { url: database.url(), store: mysqlIdempotencyStore({ db }), countRecords: count };
  });

  it('opens MySQL whatever the case of the scheme (MYSQL://)', async () => {
    const result = await runCliCaptured(['stats', '--json'], {
      databaseUrl: database.url().replace(/^mysql/, 'MYSQL'),
    });
    expect(result).toMatchObject({ code: EXIT.ok, stderr: '' });
    expect(JSON.parse(result.stdout)).toHaveProperty('total');
  });

  it('says a URL names no database, with the unavailable exit code', async () => {
    const url = new URL(database.url());
    url.pathname = '';
    const result = await runCliCaptured(['stats'], { databaseUrl: url.toString() });
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.stderr).toMatch(/names no database/);
    expect(result.stderr).not.toContain(url.password);
  });

  it('says which server it cannot reach, with the unavailable exit code', async () => {
    const result = await runCliCaptured(['stats'], {
      databaseUrl: 'mysql://nobody@127.0.0.1:1/nothing',
    });
    expect(result.code).toBe(EXIT.unavailable);
    expect(result.stderr).toMatch(/127\.0\.0\.1:1|ECONNREFUSED|connect/);
  });
});
