import { deepStrictEqual } from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openBenchDatabase, PAYEE, PAYER } from '../app/database';
import { createRawLedger } from '../app/ledger';
import { createBenchCaller, createBenchRouter } from '../app/router';
import { type Contender, interleave, interleaveSteps, roundRatio } from '../harness/interleave';
import { checkTarget, type SuiteResult } from '../harness/results';
import type { SuiteContext } from '../harness/suite';

const USER = 'user-1';
const REQUEST = { fromAccountId: PAYER, toAccountId: PAYEE, amount: 1 };

/**
 * Items 1–4 of issue #6, on one SQLite file and one connection: the floor (raw
 * better-sqlite3), plain tRPC, an idempotent first execution and a replay,
 * timed side by side in rotating rounds.
 */
export async function runInProcessSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const settings = ctx.quick
    ? { rounds: 3, roundMs: 100, warmupMs: 100 }
    : { rounds: 10, roundMs: 400, warmupMs: 500 };
  ctx.progress.plan(1 + interleaveSteps(4, settings));
  ctx.progress.step('in-process · set-up');

  using database = openBenchDatabase('in-process');
  const raw = createRawLedger(database.db.$client);
  const caller = createBenchCaller(createBenchRouter(database), USER);

  const replayKey = randomUUID();
  const first = await caller.idempotent.transfer({ ...REQUEST, idempotencyKey: replayKey });
  deepStrictEqual(
    await caller.idempotent.transfer({ ...REQUEST, idempotencyKey: replayKey }),
    first,
    'a replay answers exactly what the first execution answered',
  );

  // Counted so the run can prove afterwards that replays wrote nothing.
  const calls = { floor: 0, plain: 0, execute: 0, replay: 0 };
  const contenders: Contender[] = [
    {
      id: 'floor',
      label: 'floor: raw better-sqlite3 transaction',
      run: () => {
        calls.floor++;
        return raw.transfer({ ...REQUEST, createdBy: USER });
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
    title: 'in-process',
  });
  const get = (id: string) => {
    const result = results.get(id);
    if (!result) throw new Error(`no result for ${id}`);
    return result;
  };
  const floor = get('floor');
  const plain = get('plain');

  const counts = database.db.$client
    .prepare(
      `SELECT (SELECT count(*) FROM transfers) AS transfers,
              (SELECT count(*) FROM idempotency_records WHERE state = 'completed') AS records`,
    )
    .get() as { transfers: number; records: number };
  const expectedTransfers = 1 + calls.floor + calls.plain + calls.execute;
  const notes = [
    `${calls.replay} replays and ${calls.execute} first executions ran; the table holds ${counts.records} completed records and ${counts.transfers} transfers (expected ${expectedTransfers}: replays wrote nothing).`,
  ];
  if (counts.transfers !== expectedTransfers || counts.records !== calls.execute + 1) {
    throw new Error(`in-process: bookkeeping mismatch: ${notes[0]}`);
  }

  const rows = contenders.map((contender) => {
    const result = get(contender.id);
    return {
      id: contender.id,
      label: contender.label,
      latency: result.latency,
      ratios: [
        {
          column: '× floor',
          to: 'floor',
          what: 'median latency' as const,
          value: roundRatio(result, floor),
        },
        {
          column: '× plain',
          to: 'plain',
          what: 'median latency' as const,
          value: roundRatio(result, plain),
        },
      ],
    };
  });
  return {
    id: 'in-process',
    title: 'In process: one transfer, four ways',
    description:
      'One SQLite file (WAL, synchronous = NORMAL, as the store sets it), one connection, tRPC `createCaller`. Every call moves 1 cent between two accounts: read both accounts, debit, credit, insert the transfer row, in one `BEGIN IMMEDIATE` transaction. The idempotent first execution uses a fresh key per call; the replay repeats one completed key.',
    settings: { ...settings, timing: 'mitata, one timed call per sample, GC between measurements' },
    rows,
    targets: [
      checkTarget({
        id: 'execute-vs-plain',
        description: 'first execution ≤ 1.25 × plain tRPC (median)',
        limit: 1.25,
        comparison: '<=',
        measured: roundRatio(get('execute'), plain),
      }),
      checkTarget({
        id: 'replay-vs-plain',
        description: 'replay ≤ 0.5 × plain tRPC (median)',
        limit: 0.5,
        comparison: '<=',
        measured: roundRatio(get('replay'), plain),
      }),
    ],
    notes,
  };
}
