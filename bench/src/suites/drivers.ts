import { randomUUID } from 'node:crypto';
import { startMysql } from '@ledger/testkit/databases';
import { keyedRequest } from '../app/benchRequest';
import {
  BENCH_DRIVERS,
  type BenchDriverId,
  type DriverDatabase,
  openDriverDatabase,
} from '../app/drivers';
import { type BenchPostgres, startBenchPostgres } from '../app/postgres';
import {
  type BenchDatabase,
  completedKey,
  createPgBenchCaller,
  createPgBenchRouter,
} from '../app/router';
import {
  type Contender,
  interleave,
  interleaveSteps,
  MITATA_TIMING,
  resultsById,
  roundP99Ratio,
  roundRatio,
} from '../harness/interleave';
import {
  checkTarget,
  type ResultRow,
  type SuiteResult,
  type TargetCheck,
} from '../harness/results';
import type { SuiteContext } from '../harness/suite';

const USER = 'user-1';
/** Untimed calls of each contender before round trips are counted (connections, prepared statements). */
const COUNTING_WARMUP_CALLS = 10;
/** Calls of each contender in the pass that counts round trips. */
const COUNTING_CALLS = 20;
/** Wait after a counted call for what the driver sends after the answer. */
const SETTLE_MS = 20;

const DRIVER_LABELS: Record<BenchDriverId, string> = {
  'better-sqlite3': 'better-sqlite3',
  'libsql-file': 'libSQL file',
  'libsql-remote': 'libSQL remote (Hrana stand-in)',
  'node-postgres': 'node-postgres',
  'postgres.js': 'postgres.js',
  pglite: 'PGlite',
  mysql2: 'mysql2 (MariaDB)',
};

const CONTENDERS = [
  { id: 'plain', label: 'plain tRPC' },
  { id: 'execute', label: 'first execution' },
  { id: 'replay', label: 'replay' },
] as const;
type ContenderId = (typeof CONTENDERS)[number]['id'];

/** The idempotent and plain twins of the example's transfer on one database, and a replay key. */
async function callsOn(database: BenchDatabase, request: DriverDatabase['request']) {
  const caller = createPgBenchCaller(createPgBenchRouter(database), USER).ledger;
  const replayKey = await completedKey((idempotencyKey) =>
    caller.idempotent(keyedRequest(request, idempotencyKey)),
  );
  const run: Record<ContenderId, () => Promise<unknown>> = {
    plain: () => caller.plain(request),
    execute: () => caller.idempotent(keyedRequest(request, randomUUID())),
    replay: () => caller.idempotent(keyedRequest(request, replayKey)),
  };
  return run;
}

/**
 * The example's transfer on every driver the library supports, each on a
 * database of its own: plain tRPC, idempotent first execution and replay of
 * the same body on the same database, all timed side by side in one
 * interleaved run (rounds rotate across every driver's contenders). For the
 * drivers that talk to a server over a socket, a pass of its own counts the
 * round trips of each contender through a TCP proxy before the timing.
 */
export async function runDriversSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const settings = ctx.quick
    ? { rounds: 2, roundMs: 100, warmupMs: 100 }
    : { rounds: 8, roundMs: 300, warmupMs: 400 };
  const drivers = [...BENCH_DRIVERS];
  ctx.progress.plan(
    2 + drivers.length * 2 + interleaveSteps(drivers.length * CONTENDERS.length, settings),
  );
  const skippedDrivers: string[] = [];

  ctx.progress.step('drivers · starting Postgres');
  let postgres: BenchPostgres | undefined;
  try {
    postgres = await startBenchPostgres();
  } catch (error) {
    skippedDrivers.push(`Postgres could not be started: ${message(error)}`);
  }
  await using _postgres = postgres;
  ctx.progress.step('drivers · starting MariaDB');
  let mysql: Awaited<ReturnType<typeof startMysql>> | undefined;
  try {
    mysql = await startMysql();
  } catch (error) {
    skippedDrivers.push(`MySQL could not be started: ${message(error)}`);
  }
  await using _mysql = mysql;

  // Closed in reverse order when the suite ends, before the servers stop.
  const opened: DriverDatabase[] = [];
  await using _opened = {
    [Symbol.asyncDispose]: async () => {
      for (const database of opened.reverse()) await database[Symbol.asyncDispose]();
    },
  };
  const contenders: Contender[] = [];
  const calls = new Map<string, number>();
  /** Round trips per call until the answer, and in all (what the driver sends after it too). */
  const roundTrips = new Map<string, number>();
  const roundTripsInAll = new Map<string, number>();
  const checks: { driver: BenchDriverId; database: DriverDatabase }[] = [];
  const measured: BenchDriverId[] = [];
  for (const driver of drivers) {
    ctx.progress.step(`drivers · ${driver} · set-up`);
    let database: DriverDatabase;
    try {
      database = await openDriverDatabase(driver, {
        postgresUrl: postgres?.url,
        mysqlUrl: mysql?.url,
      });
      opened.push(database);
    } catch (error) {
      skippedDrivers.push(`${DRIVER_LABELS[driver]}: ${message(error)}`);
      ctx.progress.step(`drivers · ${driver} · skipped`);
      continue;
    }
    measured.push(driver);
    const counted = (id: string, run: () => Promise<unknown>) => () => {
      calls.set(id, (calls.get(id) ?? 0) + 1);
      return run();
    };
    const run = await callsOn(database, database.request);
    checks.push({ driver, database });
    for (const contender of CONTENDERS) {
      const id = `${driver}:${contender.id}`;
      contenders.push({
        id,
        label: `${DRIVER_LABELS[driver]}: ${contender.label}`,
        run: counted(id, run[contender.id]),
      });
    }

    ctx.progress.step(`drivers · ${driver} · counting round trips`);
    if (database.openCounted) {
      await using countedDatabase = await database.openCounted();
      const countedRun = await callsOn(countedDatabase, database.request);
      for (const contender of CONTENDERS) {
        const id = `${driver}:${contender.id}`;
        const call = counted(id, countedRun[contender.id]);
        for (let i = 0; i < COUNTING_WARMUP_CALLS; i++) await call();
        await settle();
        let beforeAnswer = 0;
        let inAll = 0;
        for (let i = 0; i < COUNTING_CALLS; i++) {
          countedDatabase.reset();
          await call();
          // The proxy runs in this process: what the driver sends after the answer reaches
          // it on a later turn of the event loop, so this count stops at the answer.
          beforeAnswer += countedDatabase.roundTrips();
          await settle();
          inAll += countedDatabase.roundTrips();
        }
        roundTrips.set(id, beforeAnswer / COUNTING_CALLS);
        roundTripsInAll.set(id, inAll / COUNTING_CALLS);
      }
    }
  }
  if (contenders.length === 0) {
    return {
      id: 'drivers',
      title: 'Per driver',
      description: '',
      settings: {},
      rows: [],
      targets: [],
      notes: [],
      skipped: skippedDrivers.join('; '),
    };
  }

  const results = await interleave(contenders, {
    ...settings,
    progress: ctx.progress,
    title: 'drivers',
  });
  const get = resultsById(results);

  const notes: string[] = [];
  for (const { driver, database } of checks) {
    const counts = await database.count();
    const n = (contender: ContenderId) => calls.get(`${driver}:${contender}`) ?? 0;
    // A completed key per caller (the timed one; the counted one when round trips were counted).
    const executions = (database.openCounted ? 2 : 1) + n('execute');
    const expectedTransfers = n('plain') + executions;
    const note = `${DRIVER_LABELS[driver]}: ${n('replay')} replays, ${n('execute')} first executions, ${n('plain')} plain calls; ${counts.records} records and ${counts.transfers} transfers (expected ${executions} and ${expectedTransfers}: replays wrote nothing)`;
    if (counts.records !== executions || counts.transfers !== expectedTransfers) {
      throw new Error(`drivers: bookkeeping mismatch: ${note}`);
    }
    notes.push(note);
  }
  for (const driver of measured) {
    const inAll = CONTENDERS.map((contender) => roundTripsInAll.get(`${driver}:${contender.id}`));
    if (inAll.some((value) => value === undefined)) continue;
    const [plain, execute, replay] = inAll;
    notes.push(
      `${DRIVER_LABELS[driver]}: round trips in all, with what follows the answer: plain ${plain}, first execution ${execute}, replay ${replay}`,
    );
  }
  notes.push(...skippedDrivers.map((reason) => `not measured: ${reason}`));

  const rows: ResultRow[] = contenders.map((contender) => {
    const plainId = contender.id.replace(/:[^:]+$/, ':plain');
    return {
      id: contender.id,
      label: contender.label,
      latency: get(contender.id).latency,
      roundTrips: roundTrips.get(contender.id),
      ratios: [
        {
          column: '× plain',
          to: plainId,
          what: 'median latency',
          value: roundRatio(get(contender.id), get(plainId)),
        },
        {
          column: 'p99 × plain p99',
          to: plainId,
          what: 'p99 latency',
          value: roundP99Ratio(get(contender.id), get(plainId)),
        },
      ],
    };
  });

  const targets: TargetCheck[] = [];
  const counts = [
    { id: 'round-trips', when: 'before the answer', perCall: roundTrips },
    { id: 'round-trips-in-all', when: 'in all', perCall: roundTripsInAll },
  ];
  for (const driver of measured) {
    for (const { id, when, perCall } of counts) {
      const plain = perCall.get(`${driver}:plain`);
      const execute = perCall.get(`${driver}:execute`);
      if (plain === undefined || execute === undefined) continue;
      targets.push(
        checkTarget({
          id: `drivers-${id}-${driver}`,
          description: `${DRIVER_LABELS[driver]} first execution: round trips ${when}`,
          limit: 1,
          comparison: '<=',
          unit: 'round trips',
          measured: execute - plain,
        }),
      );
    }
  }

  return {
    id: 'drivers',
    title: 'Per driver: one transfer, three ways, on each driver',
    description: [
      'Each driver on a database of its own, all in one process and one interleaved run: the example’s transfer as plain tRPC (the body in a plain Drizzle transaction), as an idempotent first execution (a fresh key; transactional mode) and as a replay of a completed key, one call at a time. `× plain` compares with plain tRPC on the same driver and database, round by round.',
      'Bodies: better-sqlite3 the example’s SQLite ledger (statements prepared once); libSQL the same five statements with the query builder, each awaited (the example’s SQLite ledger is synchronous, for better-sqlite3); node-postgres, postgres.js and PGlite the example’s Postgres ledger (`apps/server/src/pg/ledger.ts`); mysql2 the example’s MySQL ledger. Databases: SQLite files in WAL mode; embedded Postgres 17 (`synchronous_commit = off`) through the example’s `openDatabase` (pool of 4); PGlite in memory; MariaDB from Debian (`innodb_flush_log_at_trx_commit = 2`, pool of 4); remote libSQL is the library’s Hrana stand-in (a Node process on better-sqlite3, not sqld: its latencies say nothing about Turso, its round trips are the protocol’s).',
      `\`round trips\`: for the drivers that talk to a server, each contender’s calls counted through a TCP proxy on a second connection to the same database (a round trip starts whenever the client sends after the server spoke, so pipelined messages count once), ${COUNTING_CALLS} calls after ${COUNTING_WARMUP_CALLS} warm-up calls, until the call answers (the notes and targets give them in all too, with what the driver sends after the answer: on remote libSQL, Drizzle’s own \`COMMIT\` and the stream’s close where the store already committed); in-process drivers have none.`,
    ].join('\n\n'),
    settings: { ...settings, timing: MITATA_TIMING },
    rows,
    targets,
    notes,
  };
}

/** Lets what a driver sends after an answer reach the proxy and be counted. */
function settle() {
  return new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
}

function message(error: unknown) {
  return error instanceof Error ? error.message : String(error);
}
