import { deepStrictEqual } from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { PAYEE, PAYER } from '../app/database';
import {
  createPgBenchCaller,
  createPgBenchRouter,
  openPgBenchDatabase,
  type PgBenchDatabase,
} from '../app/pgLedger';
import { type BenchPostgres, startBenchPostgres } from '../app/postgres';
import { type Contender, interleave, interleaveSteps, roundRatio } from '../harness/interleave';
import type { ResultRow, SuiteResult } from '../harness/results';
import type { SuiteContext } from '../harness/suite';

const USER = 'user-1';
const REQUEST = { fromAccountId: PAYER, toAccountId: PAYEE, amount: 1 };

/**
 * Item 7 of issue #6: the Postgres store (`trpc-idempotency/pg`, transactional
 * mode) against the same transfer as plain tRPC and as raw node-postgres
 * statements, in process, one call at a time, on one database.
 */
export async function runPostgresSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const settings = ctx.quick
    ? { rounds: 2, roundMs: 150, warmupMs: 150 }
    : { rounds: 8, roundMs: 400, warmupMs: 500 };
  ctx.progress.plan(1 + interleaveSteps(4, settings));
  ctx.progress.step('postgres · starting Postgres');
  let server: BenchPostgres;
  try {
    server = await startBenchPostgres();
  } catch (error) {
    return skipped(
      `Postgres could not be started: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  await using _server = server;
  await using database = await openPgBenchDatabase(server.url);
  const caller = createPgBenchCaller(createPgBenchRouter(database), USER);
  const floor = await rawFloor(database);
  try {
    const replayKey = randomUUID();
    const first = await caller.idempotent.transfer({ ...REQUEST, idempotencyKey: replayKey });
    deepStrictEqual(
      await caller.idempotent.transfer({ ...REQUEST, idempotencyKey: replayKey }),
      first,
      'a replay answers exactly what the first execution answered',
    );
    const calls = { floor: 0, plain: 0, execute: 0, replay: 0 };
    const contenders: Contender[] = [
      {
        id: 'floor',
        label: 'floor: raw node-postgres transaction',
        run: () => {
          calls.floor++;
          return floor.transfer();
        },
      },
      {
        id: 'plain',
        label: 'plain tRPC mutation',
        run: () => {
          calls.plain++;
          return caller.plain.transfer(REQUEST);
        },
      },
      {
        id: 'execute',
        label: 'idempotent, first execution',
        run: () => {
          calls.execute++;
          return caller.idempotent.transfer({ ...REQUEST, idempotencyKey: randomUUID() });
        },
      },
      {
        id: 'replay',
        label: 'idempotent, replay',
        run: () => {
          calls.replay++;
          return caller.idempotent.transfer({ ...REQUEST, idempotencyKey: replayKey });
        },
      },
    ];
    const results = await interleave(contenders, {
      ...settings,
      progress: ctx.progress,
      title: 'postgres',
    });
    const get = (id: string) => {
      const result = results.get(id);
      if (!result) throw new Error(`no result for ${id}`);
      return result;
    };
    const counts = await database.count();
    const expectedTransfers = 1 + calls.floor + calls.plain + calls.execute;
    const note = `${calls.replay} replays and ${calls.execute} first executions ran; the database holds ${counts.records} completed records and ${counts.transfers} transfers (expected ${expectedTransfers}: replays wrote nothing).`;
    if (counts.transfers !== expectedTransfers || counts.records !== calls.execute + 1) {
      throw new Error(`postgres: bookkeeping mismatch: ${note}`);
    }
    const rows: ResultRow[] = contenders.map((contender) => ({
      id: contender.id,
      label: contender.label,
      latency: get(contender.id).latency,
      ratios: [
        {
          column: '× floor',
          to: 'floor',
          what: 'median latency',
          value: roundRatio(get(contender.id), get('floor')),
        },
        {
          column: '× plain',
          to: 'plain',
          what: 'median latency',
          value: roundRatio(get(contender.id), get('plain')),
        },
      ],
    }));
    return {
      id: 'postgres',
      title: 'Postgres store: one transfer, four ways',
      description: `${server.origin} on 127.0.0.1; Drizzle node-postgres on a pg.Pool. The same transfer as the SQLite suite, its statements named (prepared once per connection by Postgres). The store runs in transactional mode: every request, replays included, runs in one transaction of its own (\`inTransaction\`). One call at a time.`,
      settings: {
        ...settings,
        timing: 'mitata, one timed call per sample, GC between measurements',
      },
      rows,
      targets: [],
      notes: [note],
    };
  } finally {
    floor.release();
  }
}

/** The floor: the five statements on one pooled connection, raw node-postgres, named. */
async function rawFloor(database: PgBenchDatabase) {
  const client = await database.db.$client.connect();
  const find = 'SELECT id, balance::float8 AS balance FROM accounts WHERE id = $1';
  return {
    async transfer() {
      await client.query('BEGIN');
      try {
        const from = await client.query({ name: 'floor_find', text: find, values: [PAYER] });
        const to = await client.query({ name: 'floor_find', text: find, values: [PAYEE] });
        if (from.rows.length !== 1 || to.rows.length !== 1) throw new Error('account not found');
        if ((from.rows[0] as { balance: number }).balance < REQUEST.amount) {
          throw new Error('insufficient funds');
        }
        const add = 'UPDATE accounts SET balance = balance + $1 WHERE id = $2';
        await client.query({ name: 'floor_add', text: add, values: [-REQUEST.amount, PAYER] });
        await client.query({ name: 'floor_add', text: add, values: [REQUEST.amount, PAYEE] });
        await client.query({
          name: 'floor_insert',
          text: 'INSERT INTO transfers (id, from_account_id, to_account_id, amount, created_by, created_at_ms) VALUES ($1, $2, $3, $4, $5, $6)',
          values: [`tr_${randomUUID()}`, PAYER, PAYEE, REQUEST.amount, USER, Date.now()],
        });
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    },
    release: () => client.release(),
  };
}

function skipped(reason: string): SuiteResult {
  return {
    id: 'postgres',
    title: 'Postgres store',
    description: '',
    settings: {},
    rows: [],
    targets: [],
    notes: [],
    skipped: reason,
  };
}
