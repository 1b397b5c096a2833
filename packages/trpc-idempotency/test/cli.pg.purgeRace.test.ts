import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/runCli';
import { pgIdempotencyStore } from '../src/pg';
import { runCliCaptured } from './helpers/cli';
import { usePostgresDatabase } from './stores/postgres';

const postgres = usePostgresDatabase();

/**
 * Resolves once some session of this database waits on a lock, or once
 * `done` settles (a purge that skips locked rows never waits). Polls
 * `pg_stat_activity` from a connection of its own.
 */
async function lockWaitOr(
  done: Promise<unknown>,
  pool: { query: (text: string) => Promise<{ rows: { waiting: number }[] }> },
) {
  let settled = false;
  const settle = () => {
    settled = true;
  };
  done.then(settle, settle);
  while (!settled) {
    const { rows } = await pool.query(
      "SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if ((rows[0]?.waiting ?? 0) > 0) return 'waiting' as const;
    await sleep(10);
  }
  return 'done' as const;
}

describe('trpc-idempotency purge on Postgres against a live re-claim', () => {
  it('never deletes a record that a transaction re-claimed and completes while the purge runs', async () => {
    const db = postgres.connect({ max: 4 });
    const store = pgIdempotencyStore({ db });
    const id = { scope: 'alice', key: 'reused-after-expiry' };
    const t0 = 1_000_000;
    const claimAt = (now: number, owner: string, ttlMs: number) => ({
      ...id,
      path: 'pay',
      fingerprint: 'f',
      owner,
      now,
      leaseExpiresAt: now + 1000,
      expiresAt: now + 1000 + ttlMs,
    });
    // The key's first use, completed long ago and expired.
    expect((await store.claim(claimAt(t0, 'first', 3000))).acquired).toBe(true);
    expect(
      await store.complete({
        ...id,
        owner: 'first',
        outcome: { kind: 'result', body: '1' },
        now: t0,
        expiresAt: t0 + 3000,
      }),
    ).toBe(true);

    // The key used again: a transaction rewrites the expired row (as a claim or a commit
    // replacing an expired record does) and lasts until the purge has either waited on the
    // row's lock or finished without waiting.
    const now = t0 + 10_000;
    let purge: Promise<{ code: number; stdout: string; stderr: string }> | undefined;
    const client = await db.$client.connect();
    let observed: 'waiting' | 'done' | undefined;
    try {
      await client.query('BEGIN');
      const { rowCount } = await client.query(
        `UPDATE idempotency_records SET owner = 'second', response = '2', completed_at_ms = $1,
           lease_expires_at_ms = $1, expires_at_ms = $2
         WHERE scope = $3 AND key = $4 AND expires_at_ms <= $1`,
        [now, now + 60_000, id.scope, id.key],
      );
      expect(rowCount).toBe(1);
      purge = runCliCaptured(['purge', '--json'], { databaseUrl: postgres.url(), now });
      observed = await lockWaitOr(purge, db.$client);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const result = await purge!;
    expect(result).toMatchObject({ code: EXIT.ok, stderr: '' });
    expect(observed).toBeDefined();

    // The second use's record is live and completed: a retry replays it instead of executing again.
    expect(await store.find({ ...id, now: now + 1 })).toMatchObject({
      state: 'completed',
      owner: 'second',
      outcome: { kind: 'result', body: '2' },
    });
    expect(JSON.parse(result.stdout)).toEqual({ purged: 0 });
  });
});
