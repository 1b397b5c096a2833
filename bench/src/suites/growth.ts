import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { getTableColumns } from 'drizzle-orm';
import { idempotencyRecords } from 'trpc-idempotency/sqlite';
import { keyedRequest } from '../app/benchRequest';
import { createSqliteBenchCaller, createSqliteBenchRouter } from '../app/router';
import { type BenchSqlite, openBenchSqlite, RECORDS_TABLE } from '../app/sqlite';
import {
  type Contender,
  interleave,
  interleaveSteps,
  resultsById,
  roundRatio,
} from '../harness/interleave';
import { checkTarget, type ResultRow, type SuiteResult } from '../harness/results';
import type { SuiteContext } from '../harness/suite';

const USER = 'user-1';

/**
 * First execution and replay with 10^3, 10^5 and 10^6 completed records in
 * the table, each size in its own temp file (the example's database, its
 * ledger as the body), all timed side by side. The records are copies of one
 * record a real first execution stored, under other keys: the seeding knows
 * the table's name and its `scope` and `key` columns (the library's exported
 * schema), nothing of how a record is laid out. Seeded keys look like UUIDs
 * and are spread evenly over the key space (so fresh random keys land among
 * them) but are generated in ascending order, which lets one
 * INSERT … SELECT load a million rows in seconds.
 */
export async function runGrowthSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const sizes = ctx.quick ? [1e3, 1e4, 1e5] : [1e3, 1e5, 1e6];
  const settings = ctx.quick
    ? { sizes, rounds: 2, roundMs: 100, warmupMs: 100 }
    : { sizes, rounds: 10, roundMs: 300, warmupMs: 300 };
  ctx.progress.plan(sizes.length + interleaveSteps(sizes.length * 2, settings));

  const databases: { size: number; database: BenchSqlite; seedS: number }[] = [];
  try {
    const contenders: Contender[] = [];
    const pruners: (() => void)[] = [];
    for (const size of sizes) {
      ctx.progress.step(`growth · seeding ${formatCount(size)} records`);
      const started = performance.now();
      const database = await openBenchSqlite(`growth-${size}`);
      const entry = { size, database, seedS: 0 };
      databases.push(entry);
      const { request } = database;
      const caller = createSqliteBenchCaller(createSqliteBenchRouter(database), USER).prepared;
      const templateKey = randomUUID();
      const template = await caller.idempotent(keyedRequest(request, templateKey));
      seedRecords(database, { size, scope: USER, templateKey });
      entry.seedS = (performance.now() - started) / 1000;
      const replayed = await caller.idempotent(keyedRequest(request, seedKey(7, size)));
      if (JSON.stringify(replayed) !== JSON.stringify(template)) {
        throw new Error(`growth: a seeded key did not replay the stored response (${size})`);
      }
      const { records } = database.count();
      if (records !== size + 1) {
        throw new Error(`growth: ${records} records after seeding ${size} (and one template)`);
      }

      // The keys a round's first executions stored, deleted after the round.
      const added: string[] = [];
      contenders.push(
        {
          id: `execute-${size}`,
          label: `first execution, ${formatCount(size)} records`,
          run: () => {
            const idempotencyKey = randomUUID();
            added.push(idempotencyKey);
            return caller.idempotent(keyedRequest(request, idempotencyKey));
          },
        },
        {
          id: `replay-${size}`,
          label: `replay, ${formatCount(size)} records`,
          // A random completed record each time: lookups touch the whole table, not one hot page.
          run: () =>
            caller.idempotent(
              keyedRequest(request, seedKey(Math.floor(Math.random() * size), size)),
            ),
        },
      );
      const client = database.db.$client;
      const remove = client.prepare(
        `DELETE FROM ${RECORDS_TABLE} WHERE "${idempotencyRecords.scope.name}" = ? AND "${idempotencyRecords.key.name}" = ?`,
      );
      const removeAll = client.transaction((keys: string[]) => {
        for (const key of keys) remove.run(USER, key);
      });
      pruners.push(() => removeAll(added.splice(0)));
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
    const get = resultsById(results);
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
      'First executions add records during a round; they are deleted (by key) after each round, so every table stays at its size.',
    );
    return {
      id: 'growth',
      title: 'Growth: the records table from 10³ to 10⁶ rows',
      description:
        'The in-process first execution and replay (prepared body: the example’s database and ledger) on tables pre-filled with completed records, one temp file per size (SQLite’s default 2 MiB page cache; the files sit in the OS page cache). The seeded records are copies of one a real first execution stored, under other keys; replays look up a random one each time.',
      settings,
      rows,
      targets: [
        checkTarget({
          id: 'growth-replay',
          description: `replay at ${formatCount(largest)} records ÷ at ${formatCount(smallest)}`,
          limit: 1.15,
          comparison: '<=',
          unit: 'ratio',
          measured: roundRatio(get(`replay-${largest}`), get(`replay-${smallest}`)),
        }),
      ],
      notes,
    };
  } finally {
    for (const { database } of databases) await database[Symbol.asyncDispose]();
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

/**
 * `size` copies of the record stored under `templateKey`, under the keys
 * {@link seedKey} makes, in one INSERT … SELECT: every column is copied but
 * the key. Loaded unsynced (`synchronous = OFF` for the load, then the
 * store's setting again) and checkpointed, so the timing starts on a settled
 * file.
 */
function seedRecords(
  database: BenchSqlite,
  opts: { size: number; scope: string; templateKey: string },
) {
  const client = database.db.$client;
  const columns = Object.values(getTableColumns(idempotencyRecords)).map((column) => column.name);
  const keyColumn = idempotencyRecords.key.name;
  const scopeColumn = idempotencyRecords.scope.name;
  const key = `printf('%08x-0000-4000-8000-%012x', (x * 4294967296) / :size, x)`;
  const synchronous = client.pragma('synchronous', { simple: true });
  client.pragma('synchronous = OFF');
  try {
    client
      .prepare(
        `WITH RECURSIVE seq(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM seq WHERE x + 1 < :size)
         INSERT INTO ${RECORDS_TABLE} (${columns.map((c) => `"${c}"`).join(', ')})
         SELECT ${columns.map((c) => (c === keyColumn ? key : `template."${c}"`)).join(', ')}
         FROM seq, (SELECT * FROM ${RECORDS_TABLE} WHERE "${scopeColumn}" = :scope AND "${keyColumn}" = :templateKey) AS template`,
      )
      .run(opts);
  } finally {
    client.pragma(`synchronous = ${Number(synchronous)}`);
  }
  client.pragma('wal_checkpoint(TRUNCATE)');
}

function formatCount(size: number) {
  const exponent = Math.log10(size);
  return Number.isInteger(exponent) ? `10^${exponent}` : String(size);
}
