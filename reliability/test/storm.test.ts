import {
  checkTransferRun,
  type LedgerServerProcess,
  readLedger,
  seededRandom,
  startLedgerServer,
  type TransferInput,
} from '@ledger/testkit';
import { useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import { openAccounts, transferPlan } from '../src/ledgerWorkload';
import { batchStorm, duplicateStorm, type StormCall } from '../src/storm';
import { byStrength, report, seedFor } from '../src/strength';

const ACCOUNTS = 6;
const BALANCE = 10_000;

/** Two ledger server processes on one database, with a transfer delay so duplicates overlap. */
async function twoProcesses(databaseUrl: string) {
  const env = { LEDGER_TRANSFER_DELAY_MS: '100' };
  const servers: LedgerServerProcess[] = [];
  const dispose = async () => {
    for (const server of servers) await server[Symbol.asyncDispose]();
  };
  try {
    servers.push(await startLedgerServer({ databaseUrl, env }));
    servers.push(await startLedgerServer({ databaseUrl, env }));
  } catch (error) {
    await dispose();
    throw error;
  }
  return {
    servers,
    urls: servers.map((server) => server.url),
    /**
     * Stops both cleanly, then reads what the database holds and counts their
     * events. Only then: a process logs an event before it answers, but its
     * log reaches this process through a pipe that is read apart from the
     * answer's socket, so under load the last lines can still be in the pipe
     * when the last answer arrives (a full-strength run counted 297 of 300).
     * Once a process exited, its output is read to the end.
     */
    async stopAndRead() {
      for (const server of servers) await server.stop('SIGTERM');
      return {
        state: await readLedger(databaseUrl),
        /** Idempotency events of `type` for `path`, across both processes. */
        count: (type: string, path: string) =>
          servers.flatMap((server) => server.events(type)).filter((event) => event['path'] === path)
            .length,
      };
    },
    [Symbol.asyncDispose]: dispose,
  };
}
type TwoProcesses = Awaited<ReturnType<typeof twoProcesses>>;

const keys = byStrength({ small: 30, full: 300 });
const copies = byStrength({ small: 8, full: 25 });
const batches = byStrength({ small: 12, full: 80 });
const batchSize = byStrength({ small: 10, full: 25 });

/** Opens the accounts through the first process, then plans `keys` transfers of alice between them. */
async function plannedTransfers(cluster: TwoProcesses, seed: number) {
  const accounts = await openAccounts({
    url: () => cluster.urls[0]!,
    count: ACCOUNTS,
    balance: BALANCE,
    random: seededRandom(seed),
  });
  const next = transferPlan({ accounts, seed, maxAmount: 5000 });
  return Array.from({ length: keys }, (): StormCall<TransferInput> => {
    const { key, ...input } = next();
    return { path: 'transfers.create', user: 'alice', key, input };
  });
}

/** Transfers and account openings, each key sent `copies` times at once across both processes. */
async function stormAcrossProcesses(cluster: TwoProcesses, name: string) {
  const seed = seedFor(name);
  const transfers = await plannedTransfers(cluster, seed);
  // Another user, with the same key strings as alice's transfers: other scopes, other operations.
  const openings: StormCall<{ owner: string; initialBalance: number }>[] = transfers
    .slice(0, Math.ceil(keys / 3))
    .map((transfer, i) => ({
      path: 'accounts.open',
      user: 'bob',
      key: transfer.key,
      input: { owner: `Storm ${i}`, initialBalance: 0 },
    }));
  const [transferStorm, openStorm] = await Promise.all([
    duplicateStorm({ urls: cluster.urls, calls: transfers, copies, seed }),
    duplicateStorm({ urls: cluster.urls, calls: openings, copies, seed: seed + 1 }),
  ]);

  expect(transferStorm.mismatches).toEqual([]);
  expect(openStorm.mismatches).toEqual([]);
  const { state, count } = await cluster.stopAndRead();
  // Each key executed once in all: by one process, while the other joined, waited or replayed.
  expect(count('executed', 'transfers.create')).toBe(keys);
  expect(count('executed', 'accounts.open')).toBe(ACCOUNTS + openings.length);
  expect(
    checkTransferRun({
      snapshot: state,
      openingTotal: ACCOUNTS * BALANCE,
      transfers: transferStorm.calls,
    }),
  ).toEqual([]);
  const opened = new Set(openStorm.calls.map((call) => JSON.parse(call.record.final.body).id));
  expect(opened.size).toBe(openings.length);
  for (const call of openings) {
    expect(state.records.find((r) => r.scope === 'bob' && r.key === call.key)?.path).toBe(
      'accounts.open',
    );
  }
  expect(state.accounts).toHaveLength(ACCOUNTS + openings.length);

  const figures = (path: string) => ({
    executed: count('executed', path),
    joined: count('joined', path),
    replayed: count('replayed', path),
    conflicts: count('conflict', path),
    released: count('released', path),
  });
  report(name, {
    seed,
    keys: keys + openings.length,
    copies,
    requests: (keys + openings.length) * copies,
    httpAttempts: transferStorm.attempts + openStorm.attempts,
    retriedFor: { ...transferStorm.retriedFor, ...openStorm.retriedFor },
    transfers: figures('transfers.create'),
    openings: figures('accounts.open'),
  });
}

/**
 * Duplicate storms: many keys, each sent many times at once, across two server
 * processes on one database, and inside HTTP batches.
 */
const databases = useFreshDatabases();

for (const run of [
  { on: 'one SQLite file', dialect: 'sqlite', name: 'storm-sqlite', small: 60_000 },
  { on: 'Postgres', dialect: 'postgres', name: 'storm-postgres', small: 90_000 },
] as const) {
  describe(`duplicate storms across two server processes on ${run.on}`, () => {
    it(`${keys} transfer keys and ${Math.ceil(keys / 3)} account keys (another user, same key strings) × ${copies} copies at once: each executes once`, {
      timeout: byStrength({ small: run.small, full: 600_000 }),
    }, async () => {
      await using cluster = await twoProcesses(await databases.create(run.dialect));
      await stormAcrossProcesses(cluster, run.name);
    });
  });
}

describe('duplicate storms in HTTP batches across two server processes on one SQLite file', () => {
  it(`${batches} HTTP batches of ${batchSize}+ calls at once, keys repeated within and across batches`, {
    timeout: byStrength({ small: 60_000, full: 600_000 }),
  }, async () => {
    const seed = seedFor('storm-batches');
    await using cluster = await twoProcesses(await databases.create('sqlite'));
    const transfers = await plannedTransfers(cluster, seed);
    const storm = await batchStorm({
      urls: cluster.urls,
      calls: transfers,
      batches,
      batchSize,
      seed,
    });

    expect(storm.mismatches).toEqual([]);
    expect(storm.sameKeyTwiceInABatch).toBeGreaterThan(0);
    const { state, count } = await cluster.stopAndRead();
    expect(count('executed', 'transfers.create')).toBe(keys);
    expect(
      checkTransferRun({
        snapshot: state,
        openingTotal: ACCOUNTS * BALANCE,
        transfers: storm.calls,
      }),
    ).toEqual([]);
    report('storm-batches', {
      seed,
      keys,
      batches,
      items: storm.calls.reduce((sum, call) => sum + call.record.attempts, 0),
      sameKeyTwiceInABatch: storm.sameKeyTwiceInABatch,
      batchStatuses: storm.batchStatuses,
      retriedFor: storm.retriedFor,
      joined: count('joined', 'transfers.create'),
      replayed: count('replayed', 'transfers.create'),
      conflicts: count('conflict', 'transfers.create'),
    });
  });
});
