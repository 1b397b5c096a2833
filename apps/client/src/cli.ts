import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DEFAULT_DEMO_OPTIONS, type DemoOptions, runDemo } from './demo/runDemo';
import { describeAttemptFailure, EXIT, explainError } from './explain';
import { createLedgerClient, type LedgerClient, type RetryOptions } from './ledgerClient';

export const DEFAULT_URL = 'http://127.0.0.1:3000/trpc';

export const USAGE = `ledger — a command-line client of the example ledger server

Usage:
  ledger open <owner> <initialBalance> [--key K]   open an account holding initialBalance
  ledger transfer <from> <to> <amount> [--key K]   move amount from one account to another
  ledger balance <accountId>                       show an account and its balance
  ledger history <accountId>                       list the account's transfers, oldest first
  ledger demo [--transfers N] [--fault-rate R] [--seed S] [--concurrency C]
                                                   run the exactly-once demo on its own server
                                                   (on a fresh SQLite file, or on the empty
                                                   database env DEMO_DATABASE_URL names)

Options:
  --url URL     the server's tRPC endpoint (env LEDGER_URL; default ${DEFAULT_URL})
  --user NAME   who you are, sent as x-user-id; needed by open and transfer (env LEDGER_USER)
  --key K       the idempotency key of this operation (default: a new UUID). Re-running a
                command with the same key never applies it twice: it answers what happened.
  --json        print the server's answer as JSON
  -h, --help    show this help

Amounts are integers in minor units (cents). Failed attempts are retried with the same key
on network failures, 5xx and in-progress conflicts; each retry is reported on stderr.

Exit codes: 0 done · 1 the server said no (insufficient funds, not found, …)
            2 usage error · 3 could not reach the server, or it kept failing
            4 (demo) a discrepancy was found`;

/** Where the CLI reads and writes; `process` in production, buffers in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: Record<string, string | undefined>;
}

/** Test knobs: a faster retry policy, a shorter attempt timeout. */
export interface CliOverrides {
  retry?: RetryOptions;
  attemptTimeoutMs?: number;
}

class UsageError extends Error {
  override readonly name = 'UsageError';
}

const OPTIONS = {
  url: { type: 'string' },
  user: { type: 'string' },
  key: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  transfers: { type: 'string' },
  'fault-rate': { type: 'string' },
  seed: { type: 'string' },
  concurrency: { type: 'string' },
} as const;

const DEMO_ONLY = ['transfers', 'fault-rate', 'seed', 'concurrency'] as const;
const ARITY: Record<string, number> = { open: 2, transfer: 3, balance: 1, history: 1, demo: 0 };

type Values = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

/** Runs one command; resolves with the process exit code. */
export async function runCli(argv: string[], io: CliIo, overrides: CliOverrides = {}) {
  let parsed: ReturnType<typeof parse>;
  try {
    // `pnpm start -- --help` passes the `--` through.
    parsed = parse(argv[0] === '--' ? argv.slice(1) : argv);
  } catch (error) {
    return usageError(io, error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (values.help || command === 'help') {
    io.stdout.write(`${USAGE}\n`);
    return EXIT.ok;
  }
  if (command === undefined) {
    io.stderr.write(`${USAGE}\n`);
    return EXIT.usage;
  }
  try {
    const arity = ARITY[command];
    if (arity === undefined) throw new UsageError(`unknown command: ${command}`);
    if (args.length !== arity) {
      throw new UsageError(
        `${command} takes ${arity} argument${arity === 1 ? '' : 's'}, got ${args.length}`,
      );
    }
    if (command !== 'demo') {
      const misplaced = DEMO_ONLY.find((name) => values[name] !== undefined);
      if (misplaced) throw new UsageError(`--${misplaced} is an option of demo`);
    }
    if (values.key !== undefined && command !== 'open' && command !== 'transfer') {
      throw new UsageError('--key is an option of open and transfer');
    }
    if (command === 'demo') return await demo(values, io);
    return await callServer(command, args, values, io, overrides);
  } catch (error) {
    if (error instanceof UsageError) return usageError(io, error.message);
    throw error;
  }
}

function usageError(io: CliIo, message: string) {
  io.stderr.write(`ledger: ${message}\nRun \`ledger --help\` for usage.\n`);
  return EXIT.usage;
}

async function callServer(
  command: string,
  args: string[],
  values: Values,
  io: CliIo,
  overrides: CliOverrides,
) {
  const url = values.url ?? (io.env['LEDGER_URL'] || DEFAULT_URL);
  const user = values.user ?? (io.env['LEDGER_USER'] || undefined);
  const mutation = command === 'open' || command === 'transfer';
  if (mutation && user === undefined) {
    throw new UsageError(
      `${command} needs to know who you are: pass --user NAME or set LEDGER_USER`,
    );
  }
  // Chosen here, not by the link, so it can be printed if the outcome is unknown.
  const idempotencyKey = values.key ?? randomUUID();
  const call = prepare(command, args, idempotencyKey);
  let attempts = 1;
  const client = createLedgerClient({
    url,
    user,
    retry: overrides.retry,
    attemptTimeoutMs: overrides.attemptTimeoutMs,
    onRetry: ({ attempt, delayMs, error, op }) => {
      attempts = attempt;
      io.stderr.write(
        `retrying ${op.path} (attempt ${attempt}) in ${Math.round(delayMs)} ms: ${describeAttemptFailure(error)}\n`,
      );
    },
  });

  let result: unknown;
  try {
    result = await call(client);
  } catch (error) {
    const explained = explainError(error, { url });
    io.stderr.write(`ledger: ${explained.message}\n`);
    if (mutation && explained.outcomeUnknown) {
      io.stderr.write(
        `The ${command === 'open' ? 'account opening' : 'transfer'} may or may not have happened. To find out safely, run the same command again with --key ${idempotencyKey}: it will not be applied twice.\n`,
      );
    }
    return explained.exitCode;
  }
  if (attempts > 1) io.stderr.write(`(succeeded after ${attempts} attempts, with the same key)\n`);
  io.stdout.write(`${values.json ? JSON.stringify(result, null, 2) : describe(command, result)}\n`);
  return EXIT.ok;
}

/** Checks the arguments (a usage error otherwise) and returns the call to make. */
function prepare(command: string, args: string[], idempotencyKey: string) {
  switch (command) {
    case 'open': {
      const input = {
        idempotencyKey,
        owner: args[0]!,
        initialBalance: amount(args[1]!, 'initialBalance', 0),
      };
      return (client: LedgerClient): Promise<unknown> => client.accounts.open.mutate(input);
    }
    case 'transfer': {
      const input = {
        idempotencyKey,
        fromAccountId: args[0]!,
        toAccountId: args[1]!,
        amount: amount(args[2]!, 'amount', 1),
      };
      return (client: LedgerClient): Promise<unknown> => client.transfers.create.mutate(input);
    }
    case 'balance':
      return (client: LedgerClient): Promise<unknown> =>
        client.accounts.get.query({ id: args[0]! });
    default:
      return (client: LedgerClient): Promise<unknown> =>
        client.transfers.list.query({ accountId: args[0]! });
  }
}

function amount(text: string, name: string, min: number) {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${name} must be a whole number ≥ ${min} (minor units), got ${text}`);
  }
  return value;
}

interface AccountView {
  id: string;
  owner: string;
  balance: number;
}
interface TransferView {
  id: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  createdAt: string;
}

function describe(command: string, result: unknown): string {
  switch (command) {
    case 'open': {
      const account = result as AccountView;
      return `Opened ${account.id} for ${account.owner} with balance ${account.balance}.`;
    }
    case 'transfer': {
      const transfer = result as TransferView;
      return `Transferred ${transfer.amount} from ${transfer.fromAccountId} to ${transfer.toAccountId} (${transfer.id}, ${transfer.createdAt}).`;
    }
    case 'balance': {
      const account = result as AccountView;
      return `${account.id} (${account.owner}): ${account.balance}`;
    }
    default:
      return history(result as TransferView[]);
  }
}

function history(transfers: TransferView[]) {
  if (transfers.length === 0) return 'No transfers.';
  return transfers
    .map(
      (t) =>
        `${t.createdAt}  ${t.id}  ${t.fromAccountId} → ${t.toAccountId}  ${String(t.amount).padStart(8)}`,
    )
    .join('\n');
}

async function demo(values: Values, io: CliIo) {
  const options: DemoOptions = {
    ...DEFAULT_DEMO_OPTIONS,
    transfers: count(values.transfers, 'transfers', DEFAULT_DEMO_OPTIONS.transfers, 0),
    concurrency: count(values.concurrency, 'concurrency', DEFAULT_DEMO_OPTIONS.concurrency, 1),
    seed: count(values.seed, 'seed', DEFAULT_DEMO_OPTIONS.seed, 0),
    faultRate: rate(values['fault-rate']),
  };
  try {
    const databaseUrl = io.env['DEMO_DATABASE_URL']?.trim();
    const report = await runDemo(options, io.stdout, databaseUrl ? { databaseUrl } : {});
    return report.problems.length === 0 ? EXIT.ok : EXIT.discrepancy;
  } catch (error) {
    io.stderr.write(`ledger demo: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT.unavailable;
  }
}

function count(text: string | undefined, name: string, fallback: number, min: number) {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be a whole number ≥ ${min}, got ${text}`);
  }
  return value;
}

function rate(text: string | undefined) {
  if (text === undefined) return DEFAULT_DEMO_OPTIONS.faultRate;
  const value = Number(text);
  if (text.trim() === '' || !(value >= 0 && value <= 1)) {
    throw new UsageError(`--fault-rate must be a number from 0 to 1, got ${text}`);
  }
  return value;
}
