/**
 * Two processes racing the same keys on one libSQL database (SPEC 6.4), each
 * with its own @libsql/client, store and builder: every key executes once,
 * and both processes answer it with the one stored result. On a local file,
 * and on a remote database over Hrana (the test server standing in for sqld:
 * test/helpers/hranaServer.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { drizzle } from 'drizzle-orm/libsql';
import { describe, expect, it } from 'vitest';
import { migrateSqliteIdempotencyStore } from '../../src/sqlite';
import { startHranaServer } from '../helpers/hranaProcess';

const run = promisify(execFile);
const racer = join(import.meta.dirname, 'libsqlRacer.ts');

type Answer = { key: string; result?: { effect: number; pid: number }; error?: string };
type Run = { startedAt: number; endedAt: number; answers: Answer[] };

async function race(on: 'file' | 'remote', mode: 'transactional' | 'lease', keyCount: number) {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-libsql-race-'));
  await using server = on === 'remote' ? await startHranaServer(join(dir, 'race.db')) : undefined;
  const url = server?.libsqlUrl ?? pathToFileURL(join(dir, 'race.db')).href;
  const db = drizzle({ connection: { url, timeout: 5000 } });
  try {
    await migrateSqliteIdempotencyStore(db);
    await db.$client.execute(
      'CREATE TABLE effects (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, pid INTEGER NOT NULL)',
    );
    const keys = Array.from({ length: keyCount }, (_, i) => `race-${mode}-${i}-aaaa-bbbb`);
    const processes = ['forward', 'backward'].map((order) =>
      run(
        process.execPath,
        ['--import', 'tsx', racer, url, mode, JSON.stringify(keys), dir, order],
        {
          cwd: join(import.meta.dirname, '..', '..'),
          timeout: 120_000,
        },
      ),
    );
    while (readdirSync(dir).filter((name) => name.startsWith('ready-')).length < 2) {
      await sleep(10);
    }
    writeFileSync(join(dir, 'go'), '');
    const [a, b] = (await Promise.all(processes)).map(({ stdout }) => JSON.parse(stdout) as Run);
    const { rows } = await db.$client.execute(
      'SELECT key, count(*) AS n, min(pid) AS pid FROM effects GROUP BY key',
    );
    return { keys, a: a!, b: b!, effects: rows };
  } finally {
    db.$client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('two processes racing the same keys on one libSQL database', () => {
  it.each([
    ['file', 'transactional'],
    ['file', 'lease'],
    ['remote', 'transactional'],
    ['remote', 'lease'],
  ] as const)(
    'a %s, %s mode: each key executes once, and both processes answer its one result',
    async (on, mode) => {
      const { keys, a: runA, b: runB, effects } = await race(on, mode, 40);
      // A race: each process called while the other was calling.
      expect(runA.startedAt).toBeLessThan(runB.endedAt);
      expect(runB.startedAt).toBeLessThan(runA.endedAt);
      const [a, b] = [runA.answers, runB.answers];
      expect(a.filter((answer) => answer.error)).toEqual([]);
      expect(b.filter((answer) => answer.error)).toEqual([]);
      expect(effects).toHaveLength(keys.length);
      for (const row of effects) expect(row['n']).toBe(1);
      for (const [i, key] of keys.entries()) {
        expect(a[i]).toEqual({ key, result: expect.any(Object) });
        expect(b[i]).toEqual(a[i]);
      }
    },
    180_000,
  );
});
