import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { callBounds } from '../src/callBounds';
import { postUntilFinal } from '../src/http';
import { sleep } from '../src/pool';

/** Bounds counted from the later of a call's start and the server's last readiness. */
describe('callBounds', () => {
  it('without a server readiness: attempts and time from the call start', async () => {
    const attempts = callBounds({ maxAttempts: 3, deadlineMs: 60_000 });
    expect([attempts.next(), attempts.next(), attempts.next(), attempts.next()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(attempts.describe()).toMatch(/^3 attempts in \d+ ms since the call started/);

    const time = callBounds({ maxAttempts: 1000, deadlineMs: 30 });
    expect(time.next()).toBe(true);
    await sleep(40);
    expect(time.next()).toBe(false);
  });

  it('a restart after the call started gives it its bounds again, from the restart', async () => {
    let upSince = performance.now() - 1000;
    const bounds = callBounds({ maxAttempts: 2, deadlineMs: 60_000, serverUpSince: () => upSince });
    expect([bounds.next(), bounds.next(), bounds.next()]).toEqual([true, true, false]);
    upSince = performance.now();
    expect([bounds.next(), bounds.next(), bounds.next()]).toEqual([true, true, false]);
    expect(bounds.describe('rounds')).toMatch(/^2 rounds in \d+ ms since the server last started/);
  });

  it('a readiness older than the call does not extend it, and a server that stays up must answer in time', async () => {
    const upSince = performance.now() - 1000;
    const bounds = callBounds({ maxAttempts: 1000, deadlineMs: 30, serverUpSince: () => upSince });
    expect(bounds.next()).toBe(true);
    await sleep(40);
    expect(bounds.next()).toBe(false);
    expect(bounds.describe()).toContain('since the call started');
  });

  it('postUntilFinal: refused past its deadline while restarts go on, fails once they stop', async () => {
    const url = `http://127.0.0.1:${await closedPort()}/trpc`;
    let upSince = performance.now();
    const restarts = setInterval(() => {
      upSince = performance.now();
    }, 50);
    const started = performance.now();
    setTimeout(() => clearInterval(restarts), 600);
    await expect(
      postUntilFinal({
        url: () => url,
        path: 'transfers.create',
        input: { idempotencyKey: 'k' },
        user: 'alice',
        random: () => 0.5,
        deadlineMs: 200,
        maxDelayMs: 20,
        serverUpSince: () => upSince,
      }),
    ).rejects.toThrow(/no final answer .* since the server last started/);
    // The restarts kept it going past its 200 ms; their end gave it 200 ms more.
    expect(performance.now() - started).toBeGreaterThanOrEqual(700);
  });
});

/** A loopback port nothing listens on. */
function closedPort() {
  return new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
