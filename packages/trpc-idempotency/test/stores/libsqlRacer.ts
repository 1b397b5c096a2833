/**
 * One "server process" of the libSQL process race (libsql.processes.test.ts):
 * its own client, store and builder on the shared file; calls every key given
 * at once, in transactional mode (`pay`) or lease mode (`notify`), and prints
 * each key's answer as JSON (in the keys' order) with when it started and
 * ended, calling them `forward` or
 * `backward`. It starts calling when the file `go` appears
 * in `dir`, after writing `ready-PID` there. The handlers pause, so the two processes overlap.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { drizzle } from 'drizzle-orm/libsql';
import { integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';
import { z } from 'zod';
import { sqliteIdempotencyStore } from '../../src/sqlite';
import { callerOf, userIdempotent } from '../helpers/trpc';

const [url, mode, keysJson, dir, order] = process.argv.slice(2) as [
  string,
  'transactional' | 'lease',
  string,
  string,
  'forward' | 'backward',
];
const effects = sqliteTable('effects', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  key: text('key').notNull(),
  pid: integer('pid').notNull(),
});

// Several processes on one file: libSQL's busy timeout waits for the other process's lock.
const db = drizzle({ connection: { url, timeout: 10_000 } });
const store = sqliteIdempotencyStore({ db });
const input = z.object({ idempotencyKey: z.string(), n: z.number() });
const caller = callerOf(
  {
    pay: userIdempotent({ store, inFlight: { timeoutMs: 30_000 } })
      .input(input)
      .mutation(async ({ ctx, input }) => {
        await sleep(5);
        return ctx.idempotency.commit(async (tx) => {
          const [row] = await tx
            .insert(effects)
            .values({ key: input.idempotencyKey, pid: process.pid })
            .returning();
          return { effect: row!.id, pid: process.pid };
        });
      }),
    notify: userIdempotent({ store, mode: 'lease', inFlight: { timeoutMs: 30_000 } })
      .input(input)
      .mutation(async ({ input }) => {
        await sleep(5);
        const [row] = await db
          .insert(effects)
          .values({ key: input.idempotencyKey, pid: process.pid })
          .returning();
        return { effect: row!.id, pid: process.pid };
      }),
  },
  'racer',
);

const keys = JSON.parse(keysJson) as string[];
const call = mode === 'lease' ? caller.notify : caller.pay;
// Ready, then all at once when the test says go: both processes start calling together.
writeFileSync(join(dir, `ready-${process.pid}`), '');
while (!existsSync(join(dir, 'go'))) await sleep(2);
const startedAt = Date.now();
// The two processes start at opposite ends of the same keys, so each executes some and they meet.
const calls = keys.map((key, n) => [key, n] as const);
if (order === 'backward') calls.reverse();
const answers = await Promise.all(
  // A new call every 3 ms, each from its end: they overlap, and meet in the middle.
  calls.map(([idempotencyKey, n], i) =>
    sleep(i * 3)
      .then(() => call({ idempotencyKey, n }))
      .then(
        (result) => ({ key: idempotencyKey, result }),
        (error: unknown) => ({
          key: idempotencyKey,
          error: `${error} ${String((error as { cause?: { cause?: unknown } }).cause?.cause ?? '')}`,
        }),
      ),
  ),
);
process.stdout.write(
  JSON.stringify({
    startedAt,
    endedAt: Date.now(),
    answers: answers.sort((x, y) => keys.indexOf(x.key) - keys.indexOf(y.key)),
  }),
);
db.$client.close();
