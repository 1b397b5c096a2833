import { randomUUID } from 'node:crypto';
import { keyedRequest } from '../app/benchRequest';
import { completedKey, createSqliteBenchCaller, createSqliteBenchRouter } from '../app/router';
import { openBenchSqlite } from '../app/sqlite';
import { createSqliteFloor } from '../app/sqliteFloor';
import {
  type Contender,
  interleave,
  interleaveSteps,
  MITATA_TIMING,
  resultsById,
  roundDifference,
  roundP99Ratio,
  roundRatio,
} from '../harness/interleave';
import { checkTarget, type ResultRow, type SuiteResult } from '../harness/results';
import { median } from '../harness/stats';
import type { SuiteContext } from '../harness/suite';

const USER = 'user-1';

/**
 * The issue's layer target against its own floor: it asked for a layer of at
 * most 12 µs where one key row cost 6.8 µs on its harness (12 ÷ 6.8). This
 * machine runs the same floor several times slower from hour to hour, so the
 * absolute 12 µs says little here; the quotient carries the same demand.
 */
const ISSUE_LAYER_PER_KEY_ROW = Math.round((12 / 6.8) * 100) / 100;

/** The two transfer bodies, each timed as plain tRPC, first execution and replay. */
const BODIES = [
  { id: 'prepared', label: 'prepared body' },
  { id: 'queryBuilder', label: 'query-builder body' },
] as const;
type BodyId = (typeof BODIES)[number]['id'];

/**
 * The example's SQLite transfer in one file, on one connection: the floor (raw
 * better-sqlite3), then two bodies — the example's ledger (Drizzle statements
 * prepared once) and the same transfer with Drizzle's query builder — each as
 * plain tRPC, idempotent first execution and replay, all timed side by side
 * in rotating rounds.
 */
export async function runInProcessSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const settings = ctx.quick
    ? { rounds: 3, roundMs: 100, warmupMs: 100 }
    : { rounds: 10, roundMs: 400, warmupMs: 500 };
  const contenderCount = 4 + BODIES.length * 3;
  ctx.progress.plan(1 + interleaveSteps(contenderCount, settings));
  ctx.progress.step('in-process · set-up');

  await using database = await openBenchSqlite('in-process');
  const { request } = database;
  const floor = createSqliteFloor(database.db.$client);
  const caller = createSqliteBenchCaller(createSqliteBenchRouter(database), USER);

  // Counted so the run can prove afterwards that replays wrote nothing.
  const calls = new Map<string, number>();
  const counted = (id: string, run: () => unknown) => () => {
    calls.set(id, (calls.get(id) ?? 0) + 1);
    return run();
  };
  const contenders: Contender[] = [
    {
      id: 'floor',
      label: 'floor: raw better-sqlite3 transaction',
      run: counted('floor', () => floor.transfer({ ...request, createdBy: USER })),
    },
    {
      id: 'keyRow',
      label: 'issue’s floor: floor + one narrow key row (key, fingerprint, answer), raw',
      run: counted('keyRow', () =>
        floor.transferWithKeyRow({ ...request, createdBy: USER }, randomUUID()),
      ),
    },
    {
      id: 'reference',
      label: 'reference: floor + key lookup and completed record, raw, one transaction',
      run: counted('reference', () =>
        floor.transferWithRecord({ ...request, createdBy: USER }, randomUUID()),
      ),
    },
    {
      id: 'librarySql',
      label: 'the library’s SQL, raw: the key’s lookup, then the reference',
      run: counted('librarySql', () =>
        floor.transferWithLookupAndRecord({ ...request, createdBy: USER }, randomUUID()),
      ),
    },
  ];
  for (const body of BODIES) {
    const procedures = caller[body.id];
    const replayKey = await completedKey((idempotencyKey) =>
      procedures.idempotent(keyedRequest(request, idempotencyKey)),
    );
    contenders.push(
      {
        id: `plain-${body.id}`,
        label: `${body.label}: plain tRPC mutation`,
        run: counted(`plain-${body.id}`, () => procedures.plain(request)),
      },
      {
        id: `execute-${body.id}`,
        label: `${body.label}: idempotent, first execution`,
        run: counted(`execute-${body.id}`, () =>
          procedures.idempotent(keyedRequest(request, randomUUID())),
        ),
      },
      {
        id: `replay-${body.id}`,
        label: `${body.label}: idempotent, replay`,
        run: counted(`replay-${body.id}`, () =>
          procedures.idempotent(keyedRequest(request, replayKey)),
        ),
      },
    );
  }

  const results = await interleave(contenders, {
    ...settings,
    progress: ctx.progress,
    title: 'in-process',
  });
  const get = resultsById(results);
  // The layer's cost in units of what the issue's floor pays for its key row,
  // both differences from the same round (median over rounds): a ratio that
  // does not depend on how fast this machine runs SQLite this hour.
  const perKeyRow = (id: string, baseId: string) =>
    median(
      get(id).roundP50Us.map((value, round) => {
        const base = get(baseId).roundP50Us[round] ?? Number.NaN;
        const keyRow = get('keyRow').roundP50Us[round] ?? Number.NaN;
        const floorP50 = get('floor').roundP50Us[round] ?? Number.NaN;
        return (value - base) / (keyRow - floorP50);
      }),
    );
  const layerPerKeyRow = perKeyRow('execute-prepared', 'plain-prepared');

  const count = (prefix: string) =>
    [...calls].reduce((sum, [id, n]) => (id.startsWith(prefix) ? sum + n : sum), 0);
  const counts = database.count();
  // The reference's and the library's-SQL floor's records are in the table too
  // (path `transfers.reference`).
  const executions = count('execute-') + BODIES.length + count('reference') + count('librarySql');
  const expectedTransfers = count('floor') + count('keyRow') + count('plain-') + executions;
  const keyRows = floor.keyRows();
  const layerCost = roundDifference(get('execute-prepared'), get('plain-prepared'));
  const notes = [
    `${count('replay-')} replays and ${count('execute-')} first executions ran; the database holds ${counts.records} idempotency records, ${keyRows} key rows and ${counts.transfers} transfers (expected ${executions}, ${count('keyRow')} and ${expectedTransfers}: replays wrote nothing).`,
    `The issue’s floor (the floor’s transfer plus one prepared insert of a narrow key row: key, SHA-256 fingerprint, JSON answer; no lookup, no state, no expiry, in a table of the bench’s) costs ${roundDifference(get('keyRow'), get('floor')).toFixed(1)} µs over the floor, same round (median over rounds): the least a layer that keeps keys writes, on this schema and disk.`,
    `The reference (the issue’s: the floor’s transfer plus the key’s lookup and the completed record’s insert into the library’s records table, raw statements in the transfer’s own transaction, not nested in a SAVEPOINT, SHA-256 fingerprint, JSON answer) costs ${roundDifference(get('reference'), get('floor')).toFixed(1)} µs over the floor: what the record costs by itself on this table, whatever code writes it.`,
    `The library’s SQL (the reference with the key’s lookup before its transaction, as a first execution sends it) costs ${roundDifference(get('librarySql'), get('floor')).toFixed(1)} µs over the floor: of the prepared body’s ${layerCost.toFixed(1)} µs layer cost, the rest is the library’s code, tRPC’s and Drizzle’s around it.`,
    `Per key row (each difference ÷ the issue’s floor’s, same round, median over rounds): the reference’s record ${perKeyRow('reference', 'floor').toFixed(2)}×, the library’s SQL ${perKeyRow('librarySql', 'floor').toFixed(2)}×, the prepared body’s layer ${layerPerKeyRow.toFixed(2)}×; the issue allowed the layer ${ISSUE_LAYER_PER_KEY_ROW}× (12 µs where its key row cost 6.8 µs).`,
    'Both bodies are the example’s transfer (`apps/server/src/sqlite/ledger.ts`: read both accounts, check, debit, credit, insert the transfer row) on its schema and migrations; the replays of the two bodies do the same work (the body does not run), so their difference is noise.',
  ];
  if (
    counts.transfers !== expectedTransfers ||
    counts.records !== executions ||
    keyRows !== count('keyRow')
  ) {
    throw new Error(`in-process: bookkeeping mismatch: ${notes[0]}`);
  }

  const floorResult = get('floor');
  const rows: ResultRow[] = contenders.map((contender) => {
    const result = get(contender.id);
    const ratios: ResultRow['ratios'] = [
      {
        column: '× floor',
        to: 'floor',
        what: 'median latency',
        value: roundRatio(result, floorResult),
      },
    ];
    const [kind, body] = contender.id.split('-') as [string, BodyId | undefined];
    if (body) {
      const plain = get(`plain-${body}`);
      ratios.push(
        {
          column: '× plain',
          to: plain.id,
          what: 'median latency',
          value: roundRatio(result, plain),
        },
        {
          column: 'p99 × plain p99',
          to: plain.id,
          what: 'p99 latency',
          value: roundP99Ratio(result, plain),
        },
      );
      if (kind === 'execute') {
        ratios.push({
          column: 'layer µs (− plain)',
          to: plain.id,
          what: 'median latency difference',
          value: roundDifference(result, plain),
        });
      }
    }
    return { id: contender.id, label: contender.label, latency: result.latency, ratios };
  });

  const ratioTo = (id: string, plainId: string) => roundRatio(get(id), get(plainId));
  const p99Ratio = (body: BodyId) => roundP99Ratio(get(`execute-${body}`), get(`plain-${body}`));
  return {
    id: 'in-process',
    title: 'In process: one transfer, two bodies, plain and idempotent',
    description:
      'The example’s SQLite database (`openDatabase` of `@ledger/server`: its migrations, WAL, synchronous = NORMAL as the store sets it), one connection, tRPC `createCaller`. Every call moves 1 cent between two accounts in one `BEGIN IMMEDIATE` transaction. **Prepared body**: the example’s ledger, Drizzle statements prepared once. **Query-builder body**: the same five statements built with Drizzle’s query builder on every call. Plain runs the body in `db.transaction`, the idempotent twin in `ctx.idempotency.commit`; a first execution uses a fresh key, a replay repeats one completed key. `layer µs` is first execution − plain, same body, same round (median over rounds); `p99 × plain p99` the quotient of the two p99s in the same round (median over rounds).',
    settings: { ...settings, timing: MITATA_TIMING },
    rows,
    targets: [
      checkTarget({
        id: 'layer-vs-issue-floor-prepared',
        description: 'layer cost ÷ key row cost (12 ÷ 6.8 µs), prepared body',
        limit: ISSUE_LAYER_PER_KEY_ROW,
        comparison: '<=',
        unit: 'ratio',
        measured: layerPerKeyRow,
      }),
      checkTarget({
        id: 'execute-vs-plain-query-builder',
        description: 'first execution ÷ plain, query-builder body',
        limit: 1.15,
        comparison: '<=',
        unit: 'ratio',
        measured: ratioTo('execute-queryBuilder', 'plain-queryBuilder'),
      }),
      checkTarget({
        id: 'layer-cost-prepared',
        description: 'layer cost, prepared body (first − plain)',
        limit: 12,
        comparison: '<=',
        unit: 'µs',
        measured: layerCost,
      }),
      ...BODIES.map((body) =>
        checkTarget({
          id: `p99-${body.id}`,
          description: `p99 first ÷ p99 plain, ${body.label}`,
          limit: 2,
          comparison: '<=',
          unit: 'ratio',
          measured: p99Ratio(body.id),
        }),
      ),
      checkTarget({
        id: 'replay-vs-plain-query-builder',
        description: 'replay ÷ plain, query-builder body',
        limit: 0.2,
        comparison: '<=',
        unit: 'ratio',
        measured: ratioTo('replay-queryBuilder', 'plain-queryBuilder'),
      }),
    ],
    notes,
  };
}
