import { randomUUID } from 'node:crypto';
import {
  auditLedger,
  type FaultKind,
  randomInt,
  readLedgerFile,
  seededRandom,
  startFaultProxy,
  startLedgerServer,
} from '@ledger/testkit';
import { TRPCClientError } from '@trpc/client';
import { isRetryableError } from 'trpc-idempotency/client';
import { createLedgerClient, type LedgerClient } from './ledgerClient';

/** What the demo runs. */
export interface DemoOptions {
  /** Transfers to make. Default 300. */
  transfers: number;
  /** Share of mutation requests the proxy breaks, in [0, 1]. Default 0.2. */
  faultRate: number;
  /** Seed of the transfer plan, the faults and the retry jitter. Default 42. */
  seed: number;
  /** Transfers in flight at once. Default 8. */
  concurrency: number;
  /** Accounts to open. Default 5. */
  accounts: number;
  /** Each account's opening balance. Default 1000. */
  initialBalance: number;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = {
  transfers: 300,
  faultRate: 0.2,
  seed: 42,
  concurrency: 8,
  accounts: 5,
  initialBalance: 1000,
};

/** Where the demo writes; a progress line is redrawn in place only on a terminal. */
export interface DemoOutput {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** The demo's figures and the discrepancies it found (none, if all went well). */
export interface DemoReport {
  options: DemoOptions;
  /** Mutation calls made (account openings and transfers). */
  calls: number;
  /** Calls that needed at least one retry. */
  callsRetried: number;
  /** HTTP attempts of all calls, first attempts included. */
  attempts: number;
  transfers: { succeeded: number; refused: number };
  /** Calls whose retries ran out, then settled by calling again with the same key. */
  settledLater: number;
  faults: Record<FaultKind, number>;
  server: { executed: number; replayed: number; joined: number; conflicts: number };
  problems: string[];
  durationMs: number;
}

/** A transfer that succeeded, as the client saw it. */
export interface Landed {
  id: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
}

/**
 * Starts a ledger server with a fresh database, puts a fault-injecting proxy
 * in front of it, makes `transfers` random transfers through it with the
 * retrying client, then checks that every balance is exactly what the
 * successful transfers say. Prints as it goes; returns the figures.
 */
export async function runDemo(
  options: DemoOptions,
  out: DemoOutput,
  env: { serverEnv?: Record<string, string> } = {},
): Promise<DemoReport> {
  const started = performance.now();
  const plan = seededRandom(options.seed);
  const say = (line = '') => out.write(`${line}\n`);

  say(
    `Ledger demo: ${options.transfers} transfers between ${options.accounts} accounts, ${options.concurrency} at a time,`,
  );
  say(
    `through a proxy that breaks ${percent(options.faultRate)} of the calls (seed ${options.seed}).`,
  );

  await using server = await startLedgerServer({ env: env.serverEnv });
  await using proxy = await startFaultProxy({
    target: new URL(server.url).origin,
    faultRate: options.faultRate,
    seed: options.seed,
  });
  say(`Server: ${server.url} (SQLite ${server.databaseFile})`);
  say(
    `Proxy:  ${proxy.url}/trpc — loses responses after the server answered, resets connections, answers 502`,
  );
  say();

  const retriesByKey = new Map<string, number>();
  const faulty = createLedgerClient({
    url: `${proxy.url}/trpc`,
    user: 'demo',
    batch: false,
    retry: {
      maxAttempts: 8,
      baseDelayMs: 10,
      maxDelayMs: 200,
      deadlineMs: 15_000,
      random: seededRandom(options.seed + 1),
    },
    onRetry: ({ idempotencyKey }) =>
      retriesByKey.set(idempotencyKey, (retriesByKey.get(idempotencyKey) ?? 0) + 1),
  });
  // Straight to the server: to settle calls whose retries ran out, and to check the result.
  const direct = createLedgerClient({ url: server.url, user: 'demo', batch: false });

  const problems: string[] = [];
  let calls = 0;
  let settledLater = 0;

  /**
   * Calls `mutate` through the faulty proxy. If its retries run out, the outcome
   * is unknown, and calling again with the same key (here, without the proxy)
   * settles it: it executes if it never did, or answers what it did.
   */
  async function call<T>(
    key: string,
    mutate: (client: LedgerClient, idempotencyKey: string) => Promise<T>,
  ): Promise<T> {
    calls++;
    try {
      return await mutate(faulty, key);
    } catch (error) {
      if (!isRetryableError(error)) throw error;
      settledLater++;
      return mutate(direct, key);
    }
  }

  const accountIds: string[] = [];
  for (let i = 0; i < options.accounts; i++) {
    const account = await call(randomUUID(), (client, idempotencyKey) =>
      client.accounts.open.mutate({
        idempotencyKey,
        owner: `Owner ${String.fromCharCode(65 + (i % 26))}`,
        initialBalance: options.initialBalance,
      }),
    );
    accountIds.push(account.id);
  }
  say(`Opened ${options.accounts} accounts with ${options.initialBalance} each.`);

  const transferPlan = Array.from({ length: options.transfers }, () => {
    const from = randomInt(plan, 0, accountIds.length - 1);
    const to = (from + randomInt(plan, 1, accountIds.length - 1)) % accountIds.length;
    return {
      fromAccountId: accountIds[from]!,
      toAccountId: accountIds[to]!,
      amount: randomInt(plan, 1, Math.max(1, Math.round(options.initialBalance * 0.4))),
    };
  });

  const landed: Landed[] = [];
  let refused = 0;
  let done = 0;
  const progress = createProgress(out, options.transfers, () => ({
    retried: retriedCalls(),
    faults: totalFaults(),
  }));
  const retriedCalls = () => retriesByKey.size;
  const totalFaults = () => Object.values(proxy.stats.faults).reduce((a, b) => a + b, 0);

  let next = 0;
  const worker = async () => {
    while (next < transferPlan.length) {
      const planned = transferPlan[next++]!;
      try {
        const transfer = await call(randomUUID(), (client, idempotencyKey) =>
          client.transfers.create.mutate({ idempotencyKey, ...planned }),
        );
        landed.push(transfer);
      } catch (error) {
        if (error instanceof TRPCClientError && error.data?.code === 'PRECONDITION_FAILED') {
          refused++;
        } else {
          problems.push(`a transfer failed unexpectedly: ${String(error)}`);
        }
      }
      progress.update(++done);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, options.transfers)) }, worker),
  );
  progress.finish();

  problems.push(...(await checkLedger({ direct, accountIds, landed, options })));

  // Stop the server cleanly: its log is then complete and its file closed.
  const exit = await server.stop('SIGTERM');
  if (exit.code !== 0) problems.push(`the server did not stop cleanly: ${JSON.stringify(exit)}`);
  const transferEvents = (type: string) =>
    server.events(type).filter((line) => line['path'] === 'transfers.create').length;
  const executed = transferEvents('executed');
  if (executed !== options.transfers) {
    problems.push(
      `the server executed ${executed} transfers for ${options.transfers} transfer calls`,
    );
  }
  const audit = auditLedger(readLedgerFile(server.databaseFile));
  problems.push(...audit.map((problem) => `database file: ${problem}`));

  const report: DemoReport = {
    options,
    calls,
    callsRetried: retriedCalls(),
    attempts: calls + [...retriesByKey.values()].reduce((a, b) => a + b, 0),
    transfers: { succeeded: landed.length, refused },
    settledLater,
    faults: { ...proxy.stats.faults },
    server: {
      executed,
      replayed: transferEvents('replayed'),
      joined: transferEvents('joined'),
      conflicts: transferEvents('conflict'),
    },
    problems,
    durationMs: performance.now() - started,
  };
  printReport(report, say);
  return report;
}

/** The reads the check makes; a {@link LedgerClient} has them. */
export interface LedgerReader {
  accounts: { get: { query(input: { id: string }): Promise<{ balance: number }> } };
  transfers: { list: { query(input: { accountId: string }): Promise<Landed[]> } };
}

/** Compares what the server holds with what the client saw succeed; returns the discrepancies. */
export async function checkLedger(opts: {
  direct: LedgerReader;
  accountIds: string[];
  landed: Landed[];
  options: DemoOptions;
}): Promise<string[]> {
  const { direct, accountIds, landed, options } = opts;
  const problems: string[] = [];
  const expected = new Map(accountIds.map((id) => [id, options.initialBalance]));
  for (const transfer of landed) {
    expected.set(transfer.fromAccountId, expected.get(transfer.fromAccountId)! - transfer.amount);
    expected.set(transfer.toAccountId, expected.get(transfer.toAccountId)! + transfer.amount);
  }
  let total = 0;
  const listed = new Map<string, Landed>();
  for (const id of accountIds) {
    const account = await direct.accounts.get.query({ id });
    total += account.balance;
    if (account.balance !== expected.get(id)) {
      problems.push(
        `account ${id} has ${account.balance}, the successful transfers say ${expected.get(id)}`,
      );
    }
    for (const transfer of await direct.transfers.list.query({ accountId: id })) {
      listed.set(transfer.id, transfer);
    }
  }
  if (listed.size !== landed.length) {
    problems.push(`the server lists ${listed.size} transfers, ${landed.length} succeeded`);
  }
  for (const transfer of landed) {
    const onServer = listed.get(transfer.id);
    if (
      !onServer ||
      onServer.amount !== transfer.amount ||
      onServer.fromAccountId !== transfer.fromAccountId ||
      onServer.toAccountId !== transfer.toAccountId
    ) {
      problems.push(`transfer ${transfer.id} is not on the server as the client saw it`);
    }
  }
  const seen = new Set(landed.map((transfer) => transfer.id));
  for (const id of listed.keys()) {
    if (!seen.has(id))
      problems.push(`the server has transfer ${id}, which no successful call returned`);
  }
  const opening = options.initialBalance * accountIds.length;
  if (total !== opening)
    problems.push(`money is not conserved: ${total} in total, ${opening} opened`);
  return problems;
}

function createProgress(
  out: DemoOutput,
  total: number,
  figures: () => { retried: number; faults: number },
) {
  const line = (done: number) => {
    const { retried, faults } = figures();
    return `${String(done).padStart(String(total).length)}/${total} transfers · ${retried} calls retried · ${faults} faults injected`;
  };
  const step = Math.max(1, Math.ceil(total / 10));
  return {
    update(done: number) {
      if (out.isTTY) out.write(`\r\x1b[K  ${line(done)}`);
      else if (done % step === 0 || done === total) out.write(`  ${line(done)}\n`);
    },
    finish() {
      if (out.isTTY) out.write('\n');
    },
  };
}

function printReport(report: DemoReport, say: (line?: string) => void) {
  const { transfers, faults, server } = report;
  const row = (label: string, value: string | number) => say(`  ${label.padEnd(44)}${value}`);
  const extra = report.attempts - report.calls;
  say();
  say(`Done in ${(report.durationMs / 1000).toFixed(1)} s.`);
  say();
  say('Client');
  row(
    'transfers',
    `${report.options.transfers} (${transfers.succeeded} succeeded, ${transfers.refused} refused: insufficient funds)`,
  );
  row('calls that needed retries', `${report.callsRetried} of ${report.calls}`);
  row('attempts through the proxy', `${report.attempts} (${extra} retries)`);
  row('calls settled after their retries ran out', report.settledLater);
  say(`Faults injected by the proxy (seed ${report.options.seed})`);
  row('response lost after the server answered', faults.lostResponse);
  row('connection reset before forwarding', faults.reset);
  row('502 Bad Gateway without forwarding', faults.badGateway);
  say('Server, transfers.create (from its log)');
  row('executed', server.executed);
  row('answered from the stored outcome (replayed)', server.replayed);
  row('joined a running execution', server.joined);
  say();
  if (report.problems.length === 0) {
    say('Checks');
    say(`  ✓ every balance is exactly what the successful transfers say`);
    say(
      `  ✓ the server lists ${transfers.succeeded} transfers, the ones that succeeded, each once`,
    );
    say(
      `  ✓ money is conserved: ${report.options.initialBalance * report.options.accounts} in total`,
    );
    say(`  ✓ the server executed each of the ${report.options.transfers} transfer calls once`);
    say(
      '  ✓ the database file: no half-written transfer, each with its completed idempotency record',
    );
    say('All checks passed: every transfer landed exactly once.');
  } else {
    say(`DISCREPANCIES (${report.problems.length}):`);
    for (const problem of report.problems) say(`  ✗ ${problem}`);
  }
}

function percent(rate: number) {
  return `${Math.round(rate * 1000) / 10}%`;
}
