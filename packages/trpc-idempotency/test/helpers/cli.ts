import { expect, it } from 'vitest';
import { openIdempotencyAdmin } from '../../src/admin/openAdmin';
import { EXIT, runCli } from '../../src/cli/runCli';
import { recordScope } from '../../src/server/recordScope';
import type { IdempotencyStore } from '../../src/store/store';
import { manualClock } from './sqliteApp';

/** Runs the CLI in process, capturing its output; `now` pins its clock. */
export function runCliCaptured(
  argv: string[],
  opts: { databaseUrl?: string; now?: number; tty?: boolean; env?: Record<string, string> } = {},
) {
  let stdout = '';
  let stderr = '';
  const exit = runCli(argv, {
    env: { ...(opts.databaseUrl ? { DATABASE_URL: opts.databaseUrl } : {}), ...opts.env },
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text), isTTY: opts.tty ?? false },
    now: () => opts.now ?? Date.now(),
  });
  return exit.then((code) => ({ code, stdout, stderr }));
}

/** A fresh, migrated database of one dialect, as the CLI test cases need it. */
export interface CliTestDatabase {
  /** What `DATABASE_URL` would hold. */
  url: string;
  store: IdempotencyStore;
  countRecords(): Promise<number>;
  /** More environment for the CLI (the Postgres driver it connects with). */
  env?: Record<string, string>;
}

/** Records in every state, at known instants; `now` is when the CLI looks at them. */
async function seed(store: IdempotencyStore) {
  const clock = manualClock();
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
  const complete = (key: string, body: string, ttlMs: number, horizonMs?: number) =>
    store.complete({
      scope: 'alice',
      key,
      owner: `o-${key}`,
      outcome: { kind: 'result', body },
      now: clock.now(),
      ...(horizonMs === undefined
        ? { expiresAt: clock.now() + ttlMs }
        : { expiresAt: clock.now() + horizonMs, responseExpiresAt: clock.now() + ttlMs }),
    });
  await claim('done-live', 1000, 100_000);
  await complete('done-live', '{"paid":5}', 100_000);
  await claim('done-expired', 1000, 1000);
  await complete('done-expired', '1', 1000);
  // Its response past its TTL, its key bound until the horizon: a tombstone, response not yet dropped.
  await claim('done-tombstone', 1000, 100_000);
  await complete('done-tombstone', '{"paid":7}', 1000, 100_000);
  await claim('stuck', 5000, 100_000);
  await claim('running', 60_000, 100_000);
  return { now: clock.now() + 10_000 };
}

/**
 * The CLI's cases that touch a database, for one dialect: the same
 * expectations for SQLite and Postgres.
 */
export function cliDatabaseCases(open: () => Promise<CliTestDatabase>) {
  it('prints stats by state', async () => {
    const database = await open();
    const { now } = await seed(database.store);
    const result = await runCliCaptured(['stats', '--json'], {
      databaseUrl: database.url,
      env: database.env,
      now,
    });
    expect(result).toMatchObject({ code: EXIT.ok, stderr: '' });
    expect(JSON.parse(result.stdout)).toMatchObject({
      total: 5,
      inProgress: 2,
      expiredLeases: 1,
      completed: 3,
      tombstones: 1,
      expiredAwaitingPurge: 1,
      responsesAwaitingPurge: 1,
    });
    const human = await runCliCaptured(['stats'], {
      databaseUrl: database.url,
      env: database.env,
      now,
    });
    expect(human.stdout).toMatch(/completed +3 \(tombstones: 1\)/);
    expect(human.stdout).toMatch(/expired, awaiting purge 1/);
    expect(human.stdout).toMatch(/responses past TTL +1 /);
  });

  it('inspects a record, and shows the response only when asked', async () => {
    const database = await open();
    const { now } = await seed(database.store);
    const at = { databaseUrl: database.url, env: database.env, now };
    const plain = await runCliCaptured(['inspect', 'alice', 'done-live'], at);
    expect(plain.code).toBe(EXIT.ok);
    expect(plain.stdout).toMatch(/state\s+completed/);
    expect(plain.stdout).not.toContain('paid');
    const shown = await runCliCaptured(
      ['inspect', 'alice', 'done-live', '--show-response', '--json'],
      at,
    );
    expect(JSON.parse(shown.stdout)).toMatchObject({ response: '{"paid":5}', attempt: 1 });
    expect(plain.stdout).not.toMatch(/tombstone/);
    const tombstone = await runCliCaptured(['inspect', 'alice', 'done-tombstone'], at);
    expect(tombstone.stdout).toMatch(
      /state\s+completed \(tombstone: .*IDEMPOTENCY_OUTCOME_EXPIRED/,
    );
    expect(tombstone.stdout).toMatch(/replays\s+until \d{4}-/);
    const tombstoneJson = await runCliCaptured(
      ['inspect', 'alice', 'done-tombstone', '--json'],
      at,
    );
    expect(JSON.parse(tombstoneJson.stdout)).toMatchObject({
      tombstone: true,
      expired: false,
      outcome: 'result',
    });
    const stuck = await runCliCaptured(['inspect', 'alice', 'stuck'], at);
    expect(stuck.stdout).toMatch(/expired: the next retry takes over/);
    const missing = await runCliCaptured(['inspect', 'bob', 'nope'], at);
    expect(missing.code).toBe(EXIT.refused);
    expect(missing.stderr).toMatch(/no record/);
  });

  it('purges expired records in batches, with a dry run first', async () => {
    const database = await open();
    const { now } = await seed(database.store);
    const dry = await runCliCaptured(['purge', '--dry-run'], {
      databaseUrl: database.url,
      env: database.env,
      now,
    });
    // One expired record to delete, one tombstone's response to drop.
    expect(dry.stdout).toBe('2 expired records and responses would be purged\n');
    expect(await database.countRecords()).toBe(5);
    const purge = await runCliCaptured(['purge', '--batch-size', '1'], {
      databaseUrl: database.url,
      env: database.env,
      now,
      tty: true,
    });
    expect(purge.code).toBe(EXIT.ok);
    expect(purge.stdout).toBe('purged 2 expired records and responses\n');
    expect(purge.stderr).toContain('2/2 purged');
    expect(await database.countRecords()).toBe(4);
    const tombstone = await runCliCaptured(
      ['inspect', 'alice', 'done-tombstone', '--json', '--show-response'],
      { databaseUrl: database.url, env: database.env, now },
    );
    expect(JSON.parse(tombstone.stdout)).toMatchObject({
      tombstone: true,
      outcome: null,
      response: null,
    });
  });

  it('releases a stuck record, refuses a live lease unless forced, never a completed one', async () => {
    const database = await open();
    const { now } = await seed(database.store);
    const at = { databaseUrl: database.url, env: database.env, now };
    expect(await runCliCaptured(['release', 'alice', 'stuck'], at)).toMatchObject({
      code: EXIT.ok,
    });
    const live = await runCliCaptured(['release', 'alice', 'running'], at);
    expect(live).toMatchObject({ code: EXIT.refused, stderr: expect.stringMatching(/--force/) });
    expect(await runCliCaptured(['release', 'alice', 'running', '--force'], at)).toMatchObject({
      code: EXIT.ok,
    });
    const completed = await runCliCaptured(['release', 'alice', 'done-live'], at);
    expect(completed).toMatchObject({
      code: EXIT.refused,
      stderr: expect.stringMatching(/twice/),
    });
    expect(await database.countRecords()).toBe(3);
  });

  it('finds a record by the scope the builder returned, however long it is stored', async () => {
    const database = await open();
    const clock = manualClock();
    const scope = `tenant:${'x'.repeat(300)}`;
    await database.store.claim({
      scope: recordScope(scope),
      key: 'long-scope',
      path: 'pay',
      fingerprint: 'f',
      owner: 'o-long',
      now: clock.now(),
      leaseExpiresAt: clock.now() + 1000,
      expiresAt: clock.now() + 100_000,
    });
    const now = clock.now() + 10_000;
    const inspected = await runCliCaptured(['inspect', scope, 'long-scope', '--json'], {
      databaseUrl: database.url,
      env: database.env,
      now,
    });
    expect(inspected.code).toBe(EXIT.ok);
    expect(JSON.parse(inspected.stdout)).toMatchObject({ key: 'long-scope', state: 'in_progress' });
    const admin = await openIdempotencyAdmin(database.url);
    try {
      expect(await admin.inspect({ scope, key: 'long-scope' })).toMatchObject({ owner: 'o-long' });
      expect(await admin.release({ scope, key: 'long-scope', now, force: false })).toBe('released');
    } finally {
      await admin.close();
    }
    expect(await database.countRecords()).toBe(0);
  });

  it('finds a long-scope record by the sha256: scope it prints, for inspect and release', async () => {
    const database = await open();
    const clock = manualClock();
    const scope = `tenant:${'y'.repeat(300)}`;
    await database.store.claim({
      scope: recordScope(scope),
      key: 'printed-scope',
      path: 'pay',
      fingerprint: 'f',
      owner: 'o-printed',
      now: clock.now(),
      leaseExpiresAt: clock.now() + 1000,
      expiresAt: clock.now() + 100_000,
    });
    const now = clock.now() + 10_000;
    const shown = await runCliCaptured(['inspect', scope, 'printed-scope'], {
      databaseUrl: database.url,
      now,
    });
    const printed = /^scope\s+(\S+)$/m.exec(shown.stdout)?.[1];
    expect(printed).toMatch(/^sha256:[A-Za-z0-9_-]{43}$/);
    const again = await runCliCaptured(['inspect', printed!, 'printed-scope', '--json'], {
      databaseUrl: database.url,
      now,
    });
    expect(again.code).toBe(EXIT.ok);
    expect(JSON.parse(again.stdout)).toMatchObject({ scope: printed, owner: 'o-printed' });
    expect(
      await runCliCaptured(['release', printed!, 'printed-scope'], {
        databaseUrl: database.url,
        now,
      }),
    ).toMatchObject({ code: EXIT.ok });
    expect(await database.countRecords()).toBe(0);
    // A short scope that merely starts with sha256: is still the builder's scope, hashed.
    expect(
      await runCliCaptured(['inspect', 'sha256:short', 'printed-scope'], {
        databaseUrl: database.url,
        now,
      }),
    ).toMatchObject({ code: EXIT.refused });
  });
}
