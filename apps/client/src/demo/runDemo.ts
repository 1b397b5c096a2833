import {
  checkTransferRun,
  randomInt,
  readLedger,
  readLedgerFile,
  type SettledCall,
  seededRandom,
  startFaultProxy,
  startLedgerServer,
  type TransferInput,
} from '@ledger/testkit';
import { createDemoCalls } from './calls';
import type { DemoOptions, DemoOutput } from './options';
import { createProgress } from './progress';
import { type DemoReport, percent, printReport } from './report';

export { DEFAULT_DEMO_OPTIONS, type DemoOptions, type DemoOutput } from './options';
export type { DemoReport } from './report';

/**
 * Starts a ledger server with a fresh database, puts a fault-injecting proxy
 * in front of it, makes `transfers` random transfers through it with the
 * retrying client, then stops the server and checks its database file
 * against what the client saw: every transfer landed exactly once. Prints
 * as it goes; returns the figures.
 */
export async function runDemo(
  options: DemoOptions,
  out: DemoOutput,
  env: {
    serverEnv?: Record<string, string>;
    /** A database for the server (a Postgres one); default a new SQLite file. */
    databaseUrl?: string;
  } = {},
): Promise<DemoReport> {
  const started = performance.now();
  const say = (line = '') => out.write(`${line}\n`);
  say(
    `Ledger demo: ${options.transfers} transfers between ${options.accounts} accounts, ${options.concurrency} at a time,`,
  );
  say(
    `through a proxy that breaks ${percent(options.faultRate)} of the calls (seed ${options.seed}).`,
  );

  await using server = await startLedgerServer({
    env: env.serverEnv,
    databaseUrl: env.databaseUrl,
  });
  await using proxy = await startFaultProxy({
    target: new URL(server.url).origin,
    faultRate: options.faultRate,
    seed: options.seed,
  });
  say(
    `Server: ${server.url} (${env.databaseUrl ? withoutPassword(env.databaseUrl) : `SQLite ${server.databaseFile}`})`,
  );
  say(
    `Proxy:  ${proxy.url}/trpc — loses responses after the server answered, resets connections, answers 502`,
  );
  say();

  const demo = createDemoCalls({
    proxyUrl: `${proxy.url}/trpc`,
    serverUrl: server.url,
    seed: options.seed + 1,
  });
  const accountIds: string[] = [];
  for (let i = 0; i < options.accounts; i++) {
    const account = await demo.call((client, idempotencyKey) =>
      client.accounts.open.mutate({
        idempotencyKey,
        owner: `Owner ${String.fromCharCode(65 + (i % 26))}`,
        initialBalance: options.initialBalance,
      }),
    );
    accountIds.push(account.id);
  }
  say(`Opened ${options.accounts} accounts with ${options.initialBalance} each.`);

  const plan = transferPlan(accountIds, options);
  const problems: string[] = [];
  const settled: SettledCall<TransferInput>[] = [];
  const faults = () => Object.values(proxy.stats.faults).reduce((a, b) => a + b, 0);
  const progress = createProgress(out, plan.length, () => ({
    retried: demo.figures().callsRetried,
    faults: faults(),
  }));
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < plan.length) {
      const input = plan[next++]!;
      try {
        const call = await demo.transfer(input);
        settled.push(call);
        const { final } = call.record;
        if (final.kind === 'error' && final.code !== 'PRECONDITION_FAILED') {
          problems.push(`a transfer was refused unexpectedly: ${final.status} ${final.body}`);
        }
      } catch (error) {
        problems.push(`a transfer failed unexpectedly: ${String(error)}`);
      }
      progress.update(++done);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, plan.length)) }, worker),
  );
  progress.finish();

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
  problems.push(
    ...checkTransferRun({
      snapshot: env.databaseUrl
        ? await readLedger(env.databaseUrl)
        : readLedgerFile(server.databaseFile),
      openingTotal: options.initialBalance * options.accounts,
      transfers: settled,
    }),
  );

  const succeeded = settled.filter((call) => call.record.final.kind === 'result').length;
  const report: DemoReport = {
    options,
    ...demo.figures(),
    transfers: { succeeded, refused: settled.length - succeeded },
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

/** The demo's transfers, drawn from its seed: between two different accounts, up to 40% of a balance. */
function transferPlan(accountIds: string[], options: DemoOptions): TransferInput[] {
  const random = seededRandom(options.seed);
  return Array.from({ length: options.transfers }, () => {
    const from = randomInt(random, 0, accountIds.length - 1);
    const to = (from + randomInt(random, 1, accountIds.length - 1)) % accountIds.length;
    return {
      fromAccountId: accountIds[from]!,
      toAccountId: accountIds[to]!,
      amount: randomInt(random, 1, Math.max(1, Math.round(options.initialBalance * 0.4))),
    };
  });
}

/** A database URL safe to print. */
function withoutPassword(url: string) {
  return url.replace(/^([^:/]+:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
