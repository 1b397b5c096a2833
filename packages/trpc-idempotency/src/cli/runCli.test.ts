import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { cliDatabaseCases, runCliCaptured } from '../../test/helpers/cli';
import { sqliteTestDatabase } from '../../test/helpers/sqliteApp';
import { EXIT } from './runCli';

describe('trpc-idempotency CLI on SQLite', () => {
  cliDatabaseCases(async () => {
    const database = sqliteTestDatabase();
    onTestFinished(() => database[Symbol.dispose]());
    return {
      url: database.file,
      store: database.store,
      countRecords: async () => database.countRecords(),
    };
  });

  it('takes file:PATH as well as a plain path', async () => {
    using database = sqliteTestDatabase();
    const result = await runCliCaptured(['stats', '--json'], {
      databaseUrl: `file:${database.file}`,
    });
    expect(result.code).toBe(EXIT.ok);
    expect(JSON.parse(result.stdout)).toMatchObject({ total: 0 });
  });

  it('explains usage errors and a missing database', async () => {
    expect(await runCliCaptured([])).toMatchObject({
      code: EXIT.usage,
      stderr: expect.stringMatching(/Usage/),
    });
    expect(await runCliCaptured(['--help'])).toMatchObject({ code: EXIT.ok });
    expect(await runCliCaptured(['purge', '--help'])).toMatchObject({
      code: EXIT.ok,
      stdout: expect.stringMatching(/--dry-run/),
    });
    expect(await runCliCaptured(['frobnicate'])).toMatchObject({
      code: EXIT.usage,
      stderr: expect.stringMatching(/unknown command "frobnicate"/),
    });
    expect(await runCliCaptured(['inspect', 'only-scope'], { databaseUrl: 'x.db' })).toMatchObject({
      code: EXIT.usage,
    });
    expect(await runCliCaptured(['stats', '--bogus'])).toMatchObject({ code: EXIT.usage });
    expect(await runCliCaptured(['stats'])).toMatchObject({
      code: EXIT.usage,
      stderr: expect.stringMatching(/DATABASE_URL/),
    });
    expect(await runCliCaptured(['stats'], { databaseUrl: '/nonexistent/dir/x.db' })).toMatchObject(
      {
        code: EXIT.unavailable,
        stderr: expect.stringMatching(/cannot open SQLite database/),
      },
    );
  });

  it('runs as a real process with exit codes', () => {
    using database = sqliteTestDatabase();
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const spawn = (args: string[]) =>
      spawnSync(
        process.execPath,
        ['--conditions=@trpc-idempotency/source', '--import', 'tsx', main, ...args],
        { env: { ...process.env, DATABASE_URL: database.file }, encoding: 'utf8' },
      );
    const stats = spawn(['stats', '--json']);
    expect(stats.status).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ total: 0 });
    expect(spawn(['release', 'a', 'b']).status).toBe(EXIT.refused);
  });
});
