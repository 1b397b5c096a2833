import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { fingerprintInput } from 'trpc-idempotency';
import { type OpenBenchDatabase, openBenchDatabase, PAYEE, PAYER } from '../app/database';
import { createBenchCaller, createBenchRouter } from '../app/router';
import {
  type Contender,
  type ContenderResult,
  interleave,
  interleaveSteps,
  roundRatio,
} from '../harness/interleave';
import { checkTarget, type ResultRow, type SuiteResult } from '../harness/results';
import type { SuiteContext } from '../harness/suite';

const USER = 'user-1';
const PATH = 'idempotent.transfer';
const REQUEST = { fromAccountId: PAYER, toAccountId: PAYEE, amount: 1 };
const SEED_OWNER = 'seed';

/**
 * Item 6 of issue #6: execute and replay with 10^3, 10^5 and 10^6 completed
 * records in the table, each size in its own temp file, all timed side by
 * side. Seeded keys look like UUIDs and are spread evenly over the key space
 * (so fresh random keys land among them) but are generated in ascending order,
 * which lets one INSERT … SELECT load a million rows in seconds.
 */
export async function runGrowthSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const sizes = ctx.quick ? [1e3, 1e4, 1e5] : [1e3, 1e5, 1e6];
  const settings = ctx.quick
    ? { sizes, rounds: 2, roundMs: 100, warmupMs: 100 }
    : { sizes, rounds: 10, roundMs: 300, warmupMs: 300 };
  ctx.progress.plan(sizes.length + interleaveSteps(sizes.length * 2, settings));

  const fingerprint = fingerprintInput(REQUEST);
  const databases: { size: number; database: OpenBenchDatabase; seedS: number }[] = [];
  try {
    for (const size of sizes) {
      ctx.progress.step(`growth · seeding ${formatCount(size)} records`);
      const started = performance.now();
      const database = openBenchDatabase(`growth-${size}`, {
        seed: (client) => seedRecords(client, { size, fingerprint }),
      });
      databases.push({ size, database, seedS: (performance.now() - started) / 1000 });
    }

    const contenders: Contender[] = [];
    const pruners: (() => void)[] = [];
    for (const { size, database } of databases) {
      const caller = createBenchCaller(createBenchRouter(database), USER);
      const expected = await caller.idempotent.transfer({
        ...REQUEST,
        idempotencyKey: seedKey(7, size),
      });
      if (expected.id !== `tr_${seedKey(7, size)}`) {
        throw new Error(`growth: a seeded key did not replay its seeded response (${size})`);
      }
      contenders.push(
        {
          id: `execute-${size}`,
          label: `first execution, ${formatCount(size)} records`,
          run: () => caller.idempotent.transfer({ ...REQUEST, idempotencyKey: randomUUID() }),
        },
        {
          id: `replay-${size}`,
          label: `replay, ${formatCount(size)} records`,
          // A random completed record each time: lookups touch the whole table, not one hot page.
          run: () =>
            caller.idempotent.transfer({
              ...REQUEST,
              idempotencyKey: seedKey(Math.floor(Math.random() * size), size),
            }),
        },
      );
      const prune = database.db.$client.prepare('DELETE FROM idempotency_records WHERE owner <> ?');
      pruners.push(() => prune.run(SEED_OWNER));
    }

    const results = await interleave(contenders, {
      ...settings,
      progress: ctx.progress,
      title: 'growth',
      // Keeps each table at its size: a round's first executions add records.
      afterRound: () => {
        for (const prune of pruners) prune();
      },
    });
    const get = (id: string): ContenderResult => {
      const result = results.get(id);
      if (!result) throw new Error(`no result for ${id}`);
      return result;
    };
    const smallest = sizes[0] ?? 0;
    const largest = sizes[sizes.length - 1] ?? 0;
    const rows: ResultRow[] = contenders.map((contender) => {
      const [kind] = contender.id.split('-');
      const result = get(contender.id);
      return {
        id: contender.id,
        label: contender.label,
        latency: result.latency,
        ratios: [
          {
            column: `× at ${formatCount(smallest)}`,
            to: `${kind}-${smallest}`,
            what: 'median latency',
            value: roundRatio(result, get(`${kind}-${smallest}`)),
          },
        ],
      };
    });
    const notes = databases.map(
      ({ size, database, seedS }) =>
        `${formatCount(size)} records: seeded in ${seedS.toFixed(1)} s, file ${(statSync(database.file).size / 2 ** 20).toFixed(0)} MiB.`,
    );
    notes.push(
      'First executions add records during a round; they are deleted after each round, so every table stays at its size.',
    );
    return {
      id: 'growth',
      title: 'Growth: the records table from 10³ to 10⁶ rows',
      description:
        'The in-process first execution and replay on tables pre-filled with completed records, one temp file per size (SQLite’s default 2 MiB page cache; the files sit in the OS page cache). Replays look up a random seeded record each time.',
      settings,
      rows,
      targets: (['execute', 'replay'] as const).map((kind) =>
        checkTarget({
          id: `growth-${kind}`,
          description: `${kind === 'execute' ? 'first execution' : 'replay'} at ${formatCount(largest)} records ≤ 1.2 × at ${formatCount(smallest)}`,
          limit: 1.2,
          comparison: '<=',
          measured: roundRatio(get(`${kind}-${largest}`), get(`${kind}-${smallest}`)),
        }),
      ),
      notes,
    };
  } finally {
    for (const { database } of databases) database[Symbol.dispose]();
  }
}

/** The `x`-th of `size` seeded keys: UUID-shaped, evenly spread, ascending in `x`. */
function seedKey(x: number, size: number) {
  const spread = Math.floor((x * 2 ** 32) / size);
  return `${hex(spread, 8)}-0000-4000-8000-${hex(x, 12)}`;
}

function hex(value: number, width: number) {
  return value.toString(16).padStart(width, '0');
}

/** `size` completed records in one INSERT … SELECT; keys as {@link seedKey} makes them. */
function seedRecords(client: Database.Database, opts: { size: number; fingerprint: string }) {
  const now = Date.now();
  const key = `printf('%08x-0000-4000-8000-%012x', (x * 4294967296) / :size, x)`;
  client
    .prepare(
      `WITH RECURSIVE seq(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM seq WHERE x + 1 < :size)
       INSERT INTO idempotency_records (scope, key, path, fingerprint, state, owner, attempt,
         lease_expires_at_ms, expires_at_ms, created_at_ms, completed_at_ms, outcome_kind, response)
       SELECT :scope, ${key}, :path, :fingerprint, 'completed', :owner, 1,
         :now, :expiresAt, :now, :now, 'result', :before || ${key} || :after
       FROM seq`,
    )
    .run({
      size: opts.size,
      scope: USER,
      path: PATH,
      fingerprint: opts.fingerprint,
      owner: SEED_OWNER,
      now,
      expiresAt: now + 7 * 24 * 60 * 60 * 1000,
      before: '{"id":"tr_',
      after: `","fromAccountId":"${PAYER}","toAccountId":"${PAYEE}","amount":1,"createdAt":"${new Date(now).toISOString()}"}`,
    });
}

function formatCount(size: number) {
  const exponent = Math.log10(size);
  return Number.isInteger(exponent) ? `10^${exponent}` : String(size);
}
