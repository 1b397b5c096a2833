import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  auditLedger,
  type LedgerServerProcess,
  readLedger,
  seededRandom,
  startLedgerServer,
} from '@ledger/testkit';
import { type DatabaseKind, useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';

/** Reads a non-negative integer knob from the environment. */
export function envInteger(name: string, fallback: number) {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw)) throw new Error(`${name} must be a non-negative integer; got ${raw}`);
  return Number(raw);
}

/** The knobs of a storm: `MULTIPROCESS_KEYS`, `MULTIPROCESS_CONCURRENCY`, `MULTIPROCESS_SEED`. */
export const stormKnobs = {
  keys: envInteger('MULTIPROCESS_KEYS', 300),
  concurrency: Math.max(1, envInteger('MULTIPROCESS_CONCURRENCY', 12)),
  seed: envInteger('MULTIPROCESS_SEED', 20_261_127),
};

/** Holds each transfer between its checks and its commit, so duplicates arrive while it runs. */
export const STORM_TRANSFER_DELAY_MS = 25;

/**
 * Starts `count` server processes on one database at the same moment (their
 * start-up and migrations race too); `await using` stops them all.
 */
export async function startServers(opts: {
  count: number;
  databaseUrl: string;
  env?: Record<string, string>;
}) {
  const started = await Promise.allSettled(
    Array.from({ length: opts.count }, () =>
      startLedgerServer({
        databaseUrl: opts.databaseUrl,
        env: { LEDGER_TRANSFER_DELAY_MS: String(STORM_TRANSFER_DELAY_MS), ...opts.env },
      }),
    ),
  );
  const servers = started.flatMap((each) => (each.status === 'fulfilled' ? [each.value] : []));
  const dispose = async () => {
    await Promise.all(servers.map((server) => server[Symbol.asyncDispose]()));
  };
  const failed = started.find((each) => each.status === 'rejected');
  if (failed) {
    await dispose();
    throw failed.reason;
  }
  return { servers, [Symbol.asyncDispose]: dispose };
}

interface Operation {
  key: string;
  user: string;
  path: 'accounts.open' | 'transfers.create';
  input: Record<string, unknown>;
}

/** One attempt's final answer, after retrying 409s with the same key. */
interface Answer {
  status: number;
  text: string;
}

const USERS = ['alice', 'bob', 'carol'];
const ACCOUNTS = 6;
const OPENING_BALANCE = 1000;
const MAX_ATTEMPTS = 20;

/**
 * The duplicate storm: `keys` idempotency keys, each sent to every server at
 * the same moment (one duplicate per process), `concurrency` keys in flight
 * at a time. A 409 in progress is retried with the same key after its
 * `retryAfterMs`, as the contract says; every duplicate must end with the
 * same answer. Then each key once more, to another process: the stored replay.
 *
 * The operations are drawn from `seed`: 10 % account openings, 5 % transfers
 * to an unknown account (a stored 404), the rest transfers between six
 * accounts of 1000 (200, or a stored 412 once an account runs dry).
 */
export async function runDuplicateStorm(opts: {
  servers: LedgerServerProcess[];
  keys: number;
  concurrency: number;
  seed: number;
}) {
  const { servers } = opts;
  const accounts: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const response = await servers[0]!.mutate('accounts.open', {
      idempotencyKey: `setup-${randomUUID()}`,
      owner: `Account ${i}`,
      initialBalance: OPENING_BALANCE,
    });
    expect(response.status).toBe(200);
    accounts.push(((await response.json()) as { result: { data: { id: string } } }).result.data.id);
  }

  const random = seededRandom(opts.seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)]!;
  const operations: Operation[] = Array.from({ length: opts.keys }, (_, i) => {
    const key = `storm-${i}-${randomUUID()}`;
    const user = USERS[i % USERS.length]!;
    const roll = random();
    if (roll < 0.1) {
      const input = { owner: `Owner ${i}`, initialBalance: Math.floor(random() * 500) };
      return { key, user, path: 'accounts.open', input };
    }
    const from = pick(accounts);
    if (roll < 0.15) {
      const input = { fromAccountId: from, toAccountId: 'acc_missing', amount: 1 };
      return { key, user, path: 'transfers.create', input };
    }
    const to = pick(accounts.filter((id) => id !== from));
    const input = { fromAccountId: from, toAccountId: to, amount: 1 + Math.floor(random() * 400) };
    return { key, user, path: 'transfers.create', input };
  });

  let conflictsRetried = 0;
  async function answerOf(server: LedgerServerProcess, operation: Operation): Promise<Answer> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const response = await server.mutate(
        operation.path,
        { idempotencyKey: operation.key, ...operation.input },
        { user: operation.user },
      );
      const text = await response.text();
      if (response.status !== 409) return { status: response.status, text };
      const data = (
        JSON.parse(text) as { error: { data: { reason: string; retryAfterMs: number } } }
      ).error.data;
      expect(data.reason).toBe('IDEMPOTENCY_IN_PROGRESS');
      conflictsRetried++;
      await sleep(data.retryAfterMs);
    }
    throw new Error(`key ${operation.key} still in progress after ${MAX_ATTEMPTS} attempts`);
  }

  const answers: Answer[][] = operations.map(() => []);
  const started = performance.now();
  await inParallel(opts.concurrency, operations, async (operation, i) => {
    answers[i] = await Promise.all(servers.map((server) => answerOf(server, operation)));
  });
  const stormMs = performance.now() - started;
  await inParallel(opts.concurrency, operations, async (operation, i) => {
    answers[i]!.push(await answerOf(servers[(i + 1) % servers.length]!, operation));
  });

  return { accounts, operations, answers, conflictsRetried, stormMs };
}

/** The outcome of {@link runDuplicateStorm}. */
export type StormResult = Awaited<ReturnType<typeof runDuplicateStorm>>;

/**
 * Everything the storm must leave behind, checked against the database and
 * the servers' logs, and the figures of the run:
 * - every duplicate of a key got the same status and the byte-identical body;
 * - each key executed once: one completed record per key, one transfer row
 *   per 200 transfer and one account per 200 opening (the very ids answered),
 *   and one `executed` event per key across all processes, none released;
 * - money is conserved and no balance is negative; `auditLedger` finds nothing.
 */
export async function checkStorm(opts: {
  servers: LedgerServerProcess[];
  databaseUrl: string;
  storm: StormResult;
}) {
  const { storm, servers } = opts;
  const statuses: Record<string, number> = {};
  const transferIds = new Set<string>();
  const openedIds = new Set<string>();
  storm.operations.forEach((operation, i) => {
    const [first, ...others] = storm.answers[i]!;
    expect(first!.status, `${operation.path} ${first!.text}`).toSatisfy((status: number) =>
      [200, 404, 412].includes(status),
    );
    for (const other of others) expect(other).toEqual(first);
    statuses[first!.status] = (statuses[first!.status] ?? 0) + 1;
    if (first!.status !== 200) return;
    const { id } = (JSON.parse(first!.text) as { result: { data: { id: string } } }).result.data;
    (operation.path === 'transfers.create' ? transferIds : openedIds).add(id);
  });

  const snapshot = await readLedger(opts.databaseUrl);
  expect(auditLedger(snapshot)).toEqual([]);
  expect(new Set(snapshot.transfers.map((transfer) => transfer.id))).toEqual(transferIds);
  expect(snapshot.transfers).toHaveLength(transferIds.size);
  const setup = new Set(storm.accounts);
  expect(
    new Set(snapshot.accounts.map((account) => account.id).filter((id) => !setup.has(id))),
  ).toEqual(openedIds);
  const keys = storm.accounts.length + storm.operations.length;
  expect(snapshot.records.filter((record) => record.state === 'completed')).toHaveLength(keys);
  const total = (field: 'balance' | 'openingBalance') =>
    snapshot.accounts.reduce((sum, account) => sum + account[field], 0);
  expect(total('balance')).toBe(total('openingBalance'));
  expect(snapshot.accounts.filter((account) => account.balance < 0)).toEqual([]);

  const events = (type: string) =>
    servers.reduce((sum, server) => sum + server.events(type).length, 0);
  expect(events('executed')).toBe(keys);
  expect(events('released')).toBe(0);
  expect(events('fenced')).toBe(0);
  const replays = servers.flatMap((server) => server.events('replayed'));
  return {
    processes: servers.length,
    keys: storm.operations.length,
    requests: storm.answers.reduce((sum, answers) => sum + answers.length, 0),
    statuses,
    executionsPerProcess: servers.map((server) => server.events('executed').length),
    replayed: replays.length,
    // Replays of requests that ran their preparation while the key executed elsewhere,
    // and were settled at their commit.
    replayedAfterWaiting: replays.filter(
      (line) => Number(line['durationMs']) >= STORM_TRANSFER_DELAY_MS / 2,
    ).length,
    joined: events('joined'),
    conflicts: events('conflict'),
    conflictsRetried: storm.conflictsRetried,
    transfers: transferIds.size,
    stormMs: Math.round(storm.stormMs),
  };
}

/** Runs `task` over `items` with at most `limit` running at once. */
async function inParallel<T>(
  limit: number,
  items: readonly T[],
  task: (item: T, index: number) => Promise<void>,
) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The storm test of one deployment: `processes` server processes on one new
 * database of `dialect` (their start-up and migrations race too), every
 * key's duplicates sent to all of them at once. `settledAtCommit` says how
 * duplicates that met a running execution were settled.
 */
export function describeDuplicateStorm(opts: {
  title: string;
  dialect: DatabaseKind;
  processes: number;
  settledAtCommit: string;
  /** More environment for the servers (`PG_DRIVER`). */
  env?: Record<string, string>;
}) {
  const databases = useFreshDatabases();
  describe(opts.title, () => {
    it(`${stormKnobs.keys} keys, each sent to every process at once: each executes once, every duplicate gets the identical answer, money is conserved`, {
      timeout: 60_000 + stormKnobs.keys * 200,
    }, async () => {
      const databaseUrl = await databases.create(opts.dialect);
      await using cluster = await startServers({
        count: opts.processes,
        databaseUrl,
        env: opts.env,
      });
      const storm = await runDuplicateStorm({ servers: cluster.servers, ...stormKnobs });
      const figures = await checkStorm({ servers: cluster.servers, databaseUrl, storm });
      console.info(`multiprocess ${opts.dialect}: ${JSON.stringify(figures)}`);
      // Duplicates met running executions: the storm tested concurrency, not only replay.
      expect(figures.replayedAfterWaiting, opts.settledAtCommit).toBeGreaterThan(0);
    });
  });
}
