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

  it('refuses a --batch-size that is not a whole number from 1 to 1000000 (usage error, exit 2)', async () => {
    using database = sqliteTestDatabase();
    for (const size of [
      '1e20',
      '0',
      '-1',
      '1.5',
      'NaN',
      '1000001',
      '99999999999999999999',
      '0x10',
      ' 5',
      '',
    ]) {
      const result = await runCliCaptured(['purge', `--batch-size=${size}`], {
        databaseUrl: database.file,
      });
      expect(result, size).toMatchObject({
        code: EXIT.usage,
        stdout: '',
        stderr: expect.stringMatching(/--batch-size must be a whole number from 1 to 1000000/),
      });
    }
    // Written apart, a negative size reads as an option: still a usage error, saying how to write it.
    expect(
      await runCliCaptured(['purge', '--batch-size', '-1'], { databaseUrl: database.file }),
    ).toMatchObject({ code: EXIT.usage, stderr: expect.stringMatching(/--batch-size=-/) });
    expect(
      await runCliCaptured(['purge', '--batch-size', '1000000'], { databaseUrl: database.file }),
    ).toMatchObject({ code: EXIT.ok });
  });

  it('refuses a DATABASE_URL of another scheme instead of opening it as a SQLite path', async () => {
    for (const url of [
      'mariadb://root:secret@localhost/app',
      'sqlite:///tmp/app.db',
      'postgres:app',
      'file://otherhost/app.db',
      ' postgres://localhost/app',
    ]) {
      const result = await runCliCaptured(['stats'], { databaseUrl: url });
      expect(result, url).toMatchObject({ code: EXIT.usage, stdout: '' });
      expect(result.stderr).not.toMatch(/SQLite/);
    }
    const mariadb = await runCliCaptured(['stats'], {
      databaseUrl: 'mariadb://root:secret@localhost/app',
    });
    expect(mariadb.stderr).toBe(
      'trpc-idempotency: unsupported DATABASE_URL scheme "mariadb:" in "mariadb://root:***@localhost/app": use postgres://…, postgresql://…, libsql://…, mysql://…, file:PATH or a plain path\n',
    );
  });

  it('says the database failed, without a stack, when a command fails mid-way (exit 3)', async () => {
    using database = sqliteTestDatabase();
    const id = { scope: 'alice', key: 'expired-long-ago' };
    await database.store.claim({
      ...id,
      path: 'pay',
      fingerprint: 'f',
      owner: 'o',
      now: 0,
      leaseExpiresAt: 1000,
      expiresAt: 1000,
    });
    await database.store.complete({
      ...id,
      owner: 'o',
      outcome: { kind: 'result', body: '1' },
      now: 0,
      expiresAt: 1000,
    });
    // The database refuses the purge's delete, as a failing disk or a lost connection would.
    database.db.$client.exec(
      "CREATE TRIGGER refuse_purge BEFORE DELETE ON idempotency_records BEGIN SELECT RAISE(ABORT, 'deletes refused'); END",
    );
    const result = await runCliCaptured(['purge'], { databaseUrl: database.file });
    expect(result).toMatchObject({
      code: EXIT.unavailable,
      stdout: '',
      stderr: 'trpc-idempotency purge: the database failed: deletes refused\n',
    });
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
    const huge = spawn(['purge', '--batch-size', '1e20']);
    expect(huge.status).toBe(EXIT.usage);
    expect(huge.stderr).toMatch(/^trpc-idempotency: --batch-size must be/);
    expect(huge.stderr).not.toMatch(/\bat \S+:\d+/);
  });
});
