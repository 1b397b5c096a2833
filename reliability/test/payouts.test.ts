import { PAYOUT_PAUSE_POINTS } from '@ledger/server';
import {
  auditLedger,
  checkPayoutRun,
  type KillSnapshot,
  type PayoutInput,
  seededRandom,
  startFakeGateway,
} from '@ledger/testkit';
import { useFreshDatabases } from '@ledger/testkit/databases';
import { openIdempotencyAdmin } from 'trpc-idempotency/admin';
import { describe, expect, it } from 'vitest';
import { crashableLedger } from '../src/crashableLedger';
import { mutationClients, payoutPlan, summarizeCalls } from '../src/ledgerWorkload';
import { sleep } from '../src/pool';
import { replayCalls } from '../src/replay';
import { byStrength, report, seedFor } from '../src/strength';

const ACCOUNTS = 4;
/** Enough that the accounts never run dry: the 412s are the plan's deliberate oversized payouts. */
const BALANCE = 1_000_000;
/**
 * Generation `n` pauses every payout this long at one point, the next in turn: the kill
 * aimed at it lands while payouts wait there.
 */
const PAUSE_MS = 400;
/**
 * The lease of every generation: a killed payout is taken over this long after its last
 * claim. Longer than a payout with its pause, so only a kill makes a take-over.
 */
const LEASE_MS = 1200;

/**
 * `payouts.create` (lease mode, three steps: reserve on the ledger, pay through
 * the fake gateway, record) under SIGKILL: each generation of the server pauses
 * its payouts at one of the seven points before, inside and after the steps,
 * in turn, and is killed while a payout waits there; concurrent clients make
 * payouts all along and retry with their keys, so other payouts are caught
 * wherever they are. Then
 * the database, the gateway and the events must show that every finished step
 * ran once, the gateway paid once per payout, and every payout completed.
 */
describe('payouts: SIGKILL the server at every step boundary and inside every step', () => {
  const workers = byStrength({ small: 4, full: 6 });
  const databases = useFreshDatabases();

  for (const run of [
    {
      dialect: 'sqlite',
      name: 'payouts-crash',
      kills: byStrength({ small: 14, full: 42 }),
      timeout: byStrength({ small: 150_000, full: 600_000 }),
      title: ` aimed at the ${PAYOUT_PAUSE_POINTS.length} pause points in turn, ${workers} clients: every step once, one payment per payout (SQLite)`,
    },
    {
      dialect: 'postgres',
      name: 'payouts-crash-postgres',
      kills: byStrength({ small: 7, full: 21 }),
      timeout: byStrength({ small: 120_000, full: 600_000 }),
      title: ', one per pause point at the small strength (Postgres)',
    },
  ] as const) {
    it(`survives ${run.kills} SIGKILLs${run.title}`, { timeout: run.timeout }, async () =>
      payoutCrashRun({ ...run, workers, databaseUrl: await databases.create(run.dialect) }),
    );
  }
});

async function payoutCrashRun(opts: {
  name: string;
  kills: number;
  workers: number;
  databaseUrl: string;
}) {
  const seed = seedFor(opts.name);
  const random = seededRandom(seed);
  const started = performance.now();
  await using gateway = await startFakeGateway();
  await using ledger = await crashableLedger({
    env: { PAYOUT_GATEWAY_URL: gateway.url, LEDGER_PAYOUT_DELAY_MS: String(PAUSE_MS) },
    envOf: (generation) => ({ LEDGER_PAYOUT_DELAY_AT: pointOf(generation) }),
    shortLeaseMs: LEASE_MS,
    databaseUrl: opts.databaseUrl,
  });
  const accounts = await ledger.openAccounts({ count: ACCOUNTS, balance: BALANCE, random });
  const clients = mutationClients<PayoutInput>({
    path: 'payouts.create',
    typed: (client, input) => client.payouts.create.mutate(input),
    url: ledger.url,
    workers: opts.workers,
    next: payoutPlan({
      accounts,
      seed,
      maxAmount: 1000,
      unknownRate: 0.05,
      oversizeRate: 0.05,
      oversize: BALANCE + 1,
    }),
    seed: seed + 1,
    // Longer than a payout with all its pauses, so only kills make clients retry.
    attemptTimeoutMs: 8000,
    // A call's bounds count from the last restart, not across the test's own kills.
    serverUpSince: ledger.upSince,
  });

  // Kill `k` is aimed at generation `k - 1`'s pause point: a payout logs that it paused
  // there, and the process dies while it waits.
  const snapshots: KillSnapshot[] = [];
  for (let kill = 1; kill <= opts.kills; kill++) {
    const aimedAt = pointOf(kill - 1);
    // Some uptime first, so payouts cut off by the last kill are taken over and finish.
    await sleep(200 + Math.floor(random() * 600));
    const server = ledger.server;
    const from = server.logs.length;
    await server.waitForLog(
      (line) =>
        line.msg === 'payout paused' &&
        line['point'] === aimedAt &&
        server.logs.indexOf(line) >= from,
      60_000,
    );
    await ledger.kill();
    const state = await ledger.read();
    const admin = await openIdempotencyAdmin(ledger.databaseUrl);
    const inProgress: KillSnapshot['inProgress'] = [];
    try {
      for (const record of state.records) {
        if (record.path !== 'payouts.create' || record.state !== 'in_progress') continue;
        const found = await admin.inspect({ scope: record.scope, key: record.key });
        inProgress.push({
          key: record.key,
          attempt: found?.attempt ?? record.attempt,
          steps: found?.steps.map((step) => step.name) ?? [],
        });
      }
    } finally {
      await admin.close();
    }
    snapshots.push({ kill, aimedAt, pid: server.pid, state, inProgress });
    await ledger.restart();
  }
  const calls = await clients.stop();

  expect(await replayCalls({ url: ledger.url(), calls })).toEqual([]);
  await ledger.server.stop('SIGTERM');
  const state = await ledger.read();
  const checked = checkPayoutRun({
    calls,
    snapshot: state,
    openingTotal: ACCOUNTS * BALANCE,
    gateway,
    kills: snapshots,
    executed: ledger.events('executed').filter((event) => event['path'] === 'payouts.create'),
  });
  expect(checked.problems).toEqual([]);
  // The server's own audit: balances, holds ↔ payouts ↔ records, nothing in progress or held.
  expect(auditLedger(state)).toEqual([]);
  expect(ledger.generations).toBe(opts.kills + 1);

  const summary = summarizeCalls(calls);
  report(opts.name, {
    seed,
    kills: opts.kills,
    workers: opts.workers,
    calls: summary.calls,
    attempts: summary.attempts,
    retriedFor: summary.retriedFor,
    ...checked.figures,
    aimedAt: countBy(snapshots.map((snapshot) => snapshot.aimedAt)),
    portChanges: ledger.portChanges,
    maxDowntimeMs: Math.max(0, ...ledger.downtimesMs),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  });
  // Aimed at every point, the kills caught payouts at every stage, inside `pay` included:
  // a run that did not would prove less than it claims.
  expect(Object.keys(checked.figures.stagesCaught).sort()).toEqual([...PAYOUT_PAUSE_POINTS].sort());
  expect(checked.figures.killsInsidePay).toBeGreaterThan(0);
  expect(checked.figures.takeovers).toBeGreaterThan(0);
}

/** The pause point of generation `n`: each in turn. */
function pointOf(generation: number) {
  return PAYOUT_PAUSE_POINTS[generation % PAYOUT_PAUSE_POINTS.length]!;
}

function countBy(values: readonly string[]) {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}
