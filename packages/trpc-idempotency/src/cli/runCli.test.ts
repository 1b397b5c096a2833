import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { manualClock, sqliteTestDatabase } from '../../test/helpers/sqliteApp';
import { EXIT, runCli } from './runCli';

function run(argv: string[], opts: { databaseUrl?: string; now?: number; tty?: boolean } = {}) {
  let stdout = '';
  let stderr = '';
  const exit = runCli(argv, {
    env: opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {},
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: opts.tty ?? false },
    now: () => opts.now ?? Date.now(),
  });
  return exit.then((code) => ({ code, stdout, stderr }));
}

/** Records in every state, at known instants. */
async function seeded(database: ReturnType<typeof sqliteTestDatabase>) {
  const clock = manualClock();
  const { store } = database;
  const base = { path: 'pay', fingerprint: 'f', now: clock.now(), maxWaitMs: 0 };
  const claim = (key: string, leaseMs: number, ttlMs: number, owner = `o-${key}`) =>
    store.claim({
      ...base,
      scope: 'alice',
      key,
      owner,
      leaseExpiresAt: clock.now() + leaseMs,
      expiresAt: clock.now() + ttlMs,
    });
  await claim('done-live', 1000, 100_000);
  await store.complete({
    scope: 'alice',
    key: 'done-live',
    owner: 'o-done-live',
    outcome: { kind: 'result', body: '{"paid":5}' },
    now: clock.now(),
    expiresAt: clock.now() + 100_000,
  });
  await claim('done-expired', 1000, 1000);
  await store.complete({
    scope: 'alice',
    key: 'done-expired',
    owner: 'o-done-expired',
    outcome: { kind: 'result', body: '1' },
    now: clock.now(),
    expiresAt: clock.now() + 1000,
  });
  await claim('stuck', 5000, 100_000);
  await claim('running', 60_000, 100_000);
  return { now: clock.now() + 10_000 };
}

describe('trpc-idempotency CLI', () => {
  it('prints stats by state', async () => {
    using database = sqliteTestDatabase();
    const { now } = await seeded(database);
    const result = await run(['stats', '--json'], { databaseUrl: database.file, now });
    expect(result.code).toBe(EXIT.ok);
    expect(JSON.parse(result.stdout)).toMatchObject({
      total: 4,
      inProgress: 2,
      expiredLeases: 1,
      completed: 2,
      expiredAwaitingPurge: 1,
    });
    const human = await run(['stats'], { databaseUrl: `file:${database.file}`, now });
    expect(human.stdout).toMatch(/expired, awaiting purge 1/);
  });

  it('inspects a record, and shows the response only when asked', async () => {
    using database = sqliteTestDatabase();
    const { now } = await seeded(database);
    const plain = await run(['inspect', 'alice', 'done-live'], { databaseUrl: database.file, now });
    expect(plain.code).toBe(EXIT.ok);
    expect(plain.stdout).toMatch(/state\s+completed/);
    expect(plain.stdout).not.toContain('paid');
    const shown = await run(['inspect', 'alice', 'done-live', '--show-response', '--json'], {
      databaseUrl: database.file,
      now,
    });
    expect(JSON.parse(shown.stdout)).toMatchObject({ response: '{"paid":5}', attempt: 1 });
    const stuck = await run(['inspect', 'alice', 'stuck'], { databaseUrl: database.file, now });
    expect(stuck.stdout).toMatch(/expired: the next retry takes over/);
    const missing = await run(['inspect', 'bob', 'nope'], { databaseUrl: database.file, now });
    expect(missing.code).toBe(EXIT.refused);
    expect(missing.stderr).toMatch(/no record/);
  });

  it('purges expired records in batches, with a dry run first', async () => {
    using database = sqliteTestDatabase();
    const { now } = await seeded(database);
    const dry = await run(['purge', '--dry-run'], { databaseUrl: database.file, now });
    expect(dry.stdout).toBe('1 expired records would be purged\n');
    expect(database.countRecords()).toBe(4);
    const purge = await run(['purge', '--batch-size', '1'], {
      databaseUrl: database.file,
      now,
      tty: true,
    });
    expect(purge.code).toBe(EXIT.ok);
    expect(purge.stdout).toBe('purged 1 expired records\n');
    expect(purge.stderr).toContain('1/1 purged');
    expect(database.countRecords()).toBe(3);
  });

  it('releases a stuck record, refuses a live lease unless forced, never a completed one', async () => {
    using database = sqliteTestDatabase();
    const { now } = await seeded(database);
    const url = { databaseUrl: database.file, now };
    expect(await run(['release', 'alice', 'stuck'], url)).toMatchObject({ code: EXIT.ok });
    const live = await run(['release', 'alice', 'running'], url);
    expect(live).toMatchObject({ code: EXIT.refused, stderr: expect.stringMatching(/--force/) });
    expect(await run(['release', 'alice', 'running', '--force'], url)).toMatchObject({
      code: EXIT.ok,
    });
    const completed = await run(['release', 'alice', 'done-live'], url);
    expect(completed).toMatchObject({ code: EXIT.refused, stderr: expect.stringMatching(/twice/) });
    expect(database.countRecords()).toBe(2);
  });

  it('explains usage errors and a missing database', async () => {
    expect(await run([])).toMatchObject({
      code: EXIT.usage,
      stderr: expect.stringMatching(/Usage/),
    });
    expect(await run(['--help'])).toMatchObject({ code: EXIT.ok });
    expect(await run(['purge', '--help'])).toMatchObject({
      code: EXIT.ok,
      stdout: expect.stringMatching(/--dry-run/),
    });
    expect(await run(['frobnicate'])).toMatchObject({
      code: EXIT.usage,
      stderr: expect.stringMatching(/unknown command "frobnicate"/),
    });
    expect(await run(['inspect', 'only-scope'], { databaseUrl: 'x.db' })).toMatchObject({
      code: EXIT.usage,
    });
    expect(await run(['stats', '--bogus'])).toMatchObject({ code: EXIT.usage });
    expect(await run(['stats'])).toMatchObject({
      code: EXIT.usage,
      stderr: expect.stringMatching(/DATABASE_URL/),
    });
    expect(await run(['stats'], { databaseUrl: '/nonexistent/dir/x.db' })).toMatchObject({
      code: EXIT.unavailable,
      stderr: expect.stringMatching(/cannot open SQLite database/),
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
  });
});
