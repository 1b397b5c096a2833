import { randomUUID } from 'node:crypto';
import { keyedRequest } from '../app/benchRequest';
import { openBenchPg } from '../app/pg';
import { createPgFloor } from '../app/pgFloor';
import { type BenchPostgres, startBenchPostgres } from '../app/postgres';
import { completedKey, createPgBenchCaller, createPgBenchRouter } from '../app/router';
import {
  type Contender,
  interleave,
  interleaveSteps,
  MITATA_TIMING,
  resultsById,
  roundP99Ratio,
  roundRatio,
} from '../harness/interleave';
import { checkTarget, type ResultRow, type SuiteResult } from '../harness/results';
import type { SuiteContext } from '../harness/suite';

const USER = 'user-1';
/** The example's default lock timeout (`openDatabase`), which its transfer sets per transaction. */
const LOCK_TIMEOUT_MS = 5000;
/** Calls of each contender in the pass that counts round trips. */
const COUNTING_CALLS = 20;

/**
 * The example's Postgres ledger (`trpc-idempotency/pg`, transactional mode)
 * against the same transfer as plain tRPC and as raw node-postgres
 * statements, in process, one call at a time, on one database. Before the
 * timing, a pass of its own counts the queries (round trips) each contender
 * sends per call.
 */
export async function runPostgresSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const settings = ctx.quick
    ? { rounds: 2, roundMs: 150, warmupMs: 150 }
    : { rounds: 8, roundMs: 400, warmupMs: 500 };
  ctx.progress.plan(2 + interleaveSteps(4, settings));
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
  await using database = await openBenchPg(server.url, { poolSize: 4 });
  const { request } = database;
  const caller = createPgBenchCaller(createPgBenchRouter(database), USER).ledger;
  const floor = await createPgFloor(database.db.$client, { lockTimeoutMs: LOCK_TIMEOUT_MS });
  try {
    const replayKey = await completedKey((idempotencyKey) =>
      caller.idempotent(keyedRequest(request, idempotencyKey)),
    );
    const calls = { floor: 0, plain: 0, execute: 0, replay: 0 };
    const contenders: (Contender & { id: keyof typeof calls })[] = [
      {
        id: 'floor',
        label: 'floor: raw node-postgres transaction',
        run: () => {
          calls.floor++;
          return floor.transfer({ ...request, createdBy: USER });
        },
      },
      {
        id: 'plain',
        label: 'plain tRPC mutation',
        run: () => {
          calls.plain++;
          return caller.plain(request);
        },
      },
      {
        id: 'execute',
        label: 'idempotent, first execution',
        run: () => {
          calls.execute++;
          return caller.idempotent(keyedRequest(request, randomUUID()));
        },
      },
      {
        id: 'replay',
        label: 'idempotent, replay',
        run: () => {
          calls.replay++;
          return caller.idempotent(keyedRequest(request, replayKey));
        },
      },
    ];

    ctx.progress.step('postgres · counting round trips');
    const roundTrips = new Map<string, number>();
    const statements = new Map<string, string[]>();
    for (const contender of contenders) {
      const before = database.roundTrips.count();
      for (let i = 1; i < COUNTING_CALLS; i++) await contender.run();
      // The last call's queries are kept: latest.json lists them.
      statements.set(contender.id, await database.roundTrips.record(async () => contender.run()));
      roundTrips.set(contender.id, (database.roundTrips.count() - before) / COUNTING_CALLS);
    }

    const results = await interleave(contenders, {
      ...settings,
      progress: ctx.progress,
      title: 'postgres',
    });
    const get = resultsById(results);
    const counts = await database.count();
    const executions = 1 + calls.execute;
    const expectedTransfers = calls.floor + calls.plain + executions;
    const note = `${calls.replay} replays and ${calls.execute} first executions ran; the database holds ${counts.records} idempotency records and ${counts.transfers} transfers (expected ${executions} and ${expectedTransfers}: replays wrote nothing).`;
    if (counts.transfers !== expectedTransfers || counts.records !== executions) {
      throw new Error(`postgres: bookkeeping mismatch: ${note}`);
    }
    const rows: ResultRow[] = contenders.map((contender) => ({
      id: contender.id,
      label: contender.label,
      latency: get(contender.id).latency,
      roundTrips: roundTrips.get(contender.id),
      statements: statements.get(contender.id),
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
        {
          column: 'p99 × plain p99',
          to: 'plain',
          what: 'p99 latency',
          value: roundP99Ratio(get(contender.id), get('plain')),
        },
      ],
    }));
    const extraRoundTrips = (roundTrips.get('execute') ?? NaN) - (roundTrips.get('plain') ?? NaN);
    return {
      id: 'postgres',
      title: 'Postgres store: one transfer, four ways',
      description: `${server.origin} on 127.0.0.1; the example’s Postgres database (\`openDatabase\` of \`@ledger/server\`: its migrations, a pg.Pool of 4) and its ledger (\`apps/server/src/pg/ledger.ts\`: lock timeout, both account rows locked \`FOR UPDATE\`, one update, the transfer row; statements named, so each connection parses them once). The store runs in transactional mode. One call at a time. \`round trips\`: queries sent per call (a query of two statements counts once), counted on the pool’s connections in a pass of ${COUNTING_CALLS} calls per contender before the timing (\`bench/results/latest.json\` lists each one’s queries).`,
      settings: { ...settings, timing: MITATA_TIMING },
      rows,
      targets: [
        checkTarget({
          id: 'postgres-round-trips',
          description: 'Postgres first execution: round trips',
          limit: 1,
          comparison: '<=',
          unit: 'round trips',
          measured: extraRoundTrips,
        }),
        checkTarget({
          id: 'postgres-execute-vs-plain',
          description: 'Postgres first execution ÷ plain',
          limit: 1.3,
          comparison: '<=',
          unit: 'ratio',
          measured: roundRatio(get('execute'), get('plain')),
        }),
      ],
      notes: [note],
    };
  } finally {
    floor.release();
  }
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
