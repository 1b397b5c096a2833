import { parseArgs } from 'node:util';
import { DatabaseUrlError } from '../admin/databaseUrl';
import { isPgServerDriver, openIdempotencyAdmin } from '../admin/openAdmin';
import { DatabaseUnavailableError, type IdempotencyAdmin, MAX_BATCH_SIZE } from '../store/admin';
import { isTombstone } from '../store/lifecycle';

/** Exit codes of the `trpc-idempotency` command. */
export const EXIT = { ok: 0, refused: 1, usage: 2, unavailable: 3 } as const;

interface Io {
  env: Record<string, string | undefined>;
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown; isTTY?: boolean };
  now: () => number;
}

const USAGE = `Usage: trpc-idempotency <command> [options]

Operate on the idempotency records of a database (SQLite, libSQL or Postgres).

Commands:
  stats                   records by state, tombstones, the oldest record, what purge would do
  inspect <scope> <key>   one record: state, path, attempts, lease, expiry, tombstone
  purge                   delete expired records and drop expired responses, in batches
  release <scope> <key>   delete a stuck in-progress record so its key executes again

Options:
  --database-url URL      postgres://…, postgresql://…, libsql://…, mysql://…,
                          file:PATH or a path
                          (default: $DATABASE_URL)
  --json                  machine-readable output
  -h, --help              help for the command

Environment:
  TRPC_IDEMPOTENCY_PG_DRIVER
                          node-postgres or postgres.js, for Postgres (default:
                          pg if installed, else postgres)

Exit codes: 0 done, 1 refused or not found, 2 usage error, 3 database unavailable
or failed.
`;

const COMMAND_HELP: Record<string, string> = {
  stats: `Usage: trpc-idempotency stats [--database-url URL] [--json]

Counts records by state: in progress (and how many of those have an expired
lease, i.e. a crashed owner), completed (and how many of those are tombstones:
their response is past its TTL, their key still bound until the horizon),
expired ones waiting for purge, and tombstones whose response purge will drop;
and the creation time of the oldest record.
`,
  inspect: `Usage: trpc-idempotency inspect <scope> <key> [--show-response] [--database-url URL] [--json]

Shows one record: state, path, attempts, owner, lease and expiry, whether it
is a tombstone (completed, its response past its TTL: a retry answers
IDEMPOTENCY_OUTCOME_EXPIRED until the horizon), and for a lease-mode record
in progress, the steps it finished (a retry resumes after them). The stored response is shown only with --show-response (it may hold
personal data). A scope longer than 200 bytes is looked up by its hash, as
records store it; the hashed form this command prints (sha256:…) is taken
as it is.
`,
  purge: `Usage: trpc-idempotency purge [--dry-run] [--batch-size N] [--database-url URL] [--json]

Deletes expired records, then drops the responses of completed records past
their TTL (their tombstones stay until the horizon), in batches of N (default
1000, at most 1000000), with a progress bar on a terminal: the store's own
purge, so records that have not expired (an in-progress one expires a full
TTL after its lease), or that a request claims or completes meanwhile, are
never touched. --dry-run only counts what would be purged.
`,
  release: `Usage: trpc-idempotency release <scope> <key> [--force] [--database-url URL] [--json]

Deletes a stuck in-progress record so the next request with its key executes
again. Refuses while the record's lease is live (its owner may still be
running) unless --force. Never deletes a completed record. <scope> is the
scope your builder returns, or the hashed form inspect prints (sha256:…).
`,
};

/** Runs the command line; returns the exit code. */
export async function runCli(argv: string[], io: Io): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.stderr.write(`trpc-idempotency: ${(error as Error).message}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  const [command, ...args] = positionals;
  if (!command) {
    (values.help ? io.stdout : io.stderr).write(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  const help = COMMAND_HELP[command];
  if (!help) {
    io.stderr.write(`trpc-idempotency: unknown command "${command}"\n\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help) {
    io.stdout.write(help);
    return EXIT.ok;
  }
  const expected = command === 'inspect' || command === 'release' ? 2 : 0;
  if (args.length !== expected) {
    io.stderr.write(
      `trpc-idempotency ${command}: expected ${expected === 2 ? '<scope> <key>' : 'no arguments'}, got ${args.length}\n\n${help}`,
    );
    return EXIT.usage;
  }
  const batchSize = parseBatchSize(values['batch-size']);
  if (batchSize === undefined) {
    io.stderr.write(
      `trpc-idempotency: --batch-size must be a whole number from 1 to ${MAX_BATCH_SIZE}, written in digits; got ${JSON.stringify(values['batch-size'])}\n`,
    );
    return EXIT.usage;
  }
  const databaseUrl = values['database-url'] ?? io.env['DATABASE_URL'];
  if (!databaseUrl) {
    io.stderr.write('trpc-idempotency: no database: pass --database-url or set DATABASE_URL\n');
    return EXIT.usage;
  }

  const pgDriver = io.env['TRPC_IDEMPOTENCY_PG_DRIVER'];
  if (pgDriver !== undefined && !isPgServerDriver(pgDriver)) {
    io.stderr.write(
      `trpc-idempotency: TRPC_IDEMPOTENCY_PG_DRIVER must be node-postgres or postgres.js; got ${JSON.stringify(pgDriver)}\n`,
    );
    return EXIT.usage;
  }

  let admin: IdempotencyAdmin;
  try {
    admin = await openIdempotencyAdmin(databaseUrl, { pgDriver });
  } catch (error) {
    if (error instanceof DatabaseUrlError) {
      io.stderr.write(`trpc-idempotency: ${error.message}\n`);
      return EXIT.usage;
    }
    if (!(error instanceof DatabaseUnavailableError)) throw error;
    io.stderr.write(`trpc-idempotency: ${error.message}\n`);
    return EXIT.unavailable;
  }
  try {
    const out = (human: string, json: unknown) =>
      io.stdout.write(values.json ? `${JSON.stringify(json)}\n` : human);
    const now = io.now();
    switch (command) {
      case 'stats': {
        const stats = await admin.stats({ now });
        out(
          [
            `records                 ${stats.total}`,
            `  in progress           ${stats.inProgress} (lease expired: ${stats.expiredLeases})`,
            `  completed             ${stats.completed} (tombstones: ${stats.tombstones})`,
            `expired, awaiting purge ${stats.expiredAwaitingPurge}`,
            `responses past TTL      ${stats.responsesAwaitingPurge} (purge drops them; the tombstones stay)`,
            `oldest record           ${stats.oldestCreatedAt === null ? '—' : `${iso(stats.oldestCreatedAt)} (${ago(now - stats.oldestCreatedAt)} ago)`}`,
            '',
          ].join('\n'),
          stats,
        );
        return EXIT.ok;
      }
      case 'inspect': {
        const [scope, key] = args as [string, string];
        const record = await admin.inspect({ scope, key });
        if (!record) {
          io.stderr.write(`no record for scope "${scope}" and key "${key}"\n`);
          return EXIT.refused;
        }
        const { outcome, ...rest } = record;
        const { completedAt: _completedAt, ...forRule } = record;
        const tombstone = isTombstone(forRule, now);
        const shown = {
          ...rest,
          expired: record.expiresAt <= now,
          tombstone,
          outcome: outcome?.kind ?? null,
          ...(values['show-response'] ? { response: outcome?.body ?? null } : {}),
        };
        const leaseLine =
          record.state === 'in_progress'
            ? `${iso(record.leaseExpiresAt)} (${record.leaseExpiresAt > now ? `live, ${ago(record.leaseExpiresAt - now)} left` : 'expired: the next retry takes over'})`
            : '—';
        out(
          [
            `scope       ${record.scope}`,
            `key         ${record.key}`,
            `state       ${record.state}${shown.expired ? ' (expired: lookups ignore it)' : tombstone ? ' (tombstone: its response is past its TTL; a retry answers IDEMPOTENCY_OUTCOME_EXPIRED)' : ''}`,
            `path        ${record.path}`,
            `attempts    ${record.attempt}`,
            `owner       ${record.owner}`,
            `lease       ${leaseLine}`,
            `created     ${iso(record.createdAt)}`,
            `completed   ${record.completedAt === null ? '—' : iso(record.completedAt)}`,
            ...(record.responseExpiresAt === undefined
              ? []
              : [`replays     until ${iso(record.responseExpiresAt)}`]),
            `expires     ${iso(record.expiresAt)}${record.state === 'completed' && record.responseExpiresAt !== undefined ? ' (the key is free after it)' : ''}`,
            `outcome     ${shown.outcome ?? '—'}`,
            ...(record.state === 'in_progress'
              ? [
                  `steps       ${record.steps.map((step) => step.name).join(', ') || '— (none finished)'}`,
                ]
              : []),
            ...(values['show-response'] ? [`response    ${outcome?.body ?? '—'}`] : []),
            '',
          ].join('\n'),
          shown,
        );
        return EXIT.ok;
      }
      case 'purge': {
        const total = await admin.countPurgeable({ now });
        if (values['dry-run']) {
          out(`${total} expired records and responses would be purged\n`, {
            dryRun: true,
            purgeable: total,
          });
          return EXIT.ok;
        }
        const progress =
          io.stderr.isTTY && !values.json ? progressBar(io.stderr, total) : undefined;
        let deleted = 0;
        for (;;) {
          const batch = await admin.purgeBatch({ now, limit: batchSize });
          deleted += batch;
          progress?.(deleted);
          if (batch < batchSize) break;
        }
        if (progress) io.stderr.write('\n');
        out(`purged ${deleted} expired records and responses\n`, { purged: deleted });
        return EXIT.ok;
      }
      case 'release': {
        const [scope, key] = args as [string, string];
        const result = await admin.release({
          scope,
          key,
          now,
          force: Boolean(values.force),
        });
        const messages = {
          released: `released: the next request with this key executes again\n`,
          not_found: `no record for scope "${scope}" and key "${key}"\n`,
          completed: `refused: the record is completed; releasing it would let the operation run twice\n`,
          lease_live: `refused: the lease is live (its owner may still be running); wait for it to expire, or pass --force\n`,
        } as const;
        if (result === 'released') {
          out(messages.released, { result });
          return EXIT.ok;
        }
        if (values.json) io.stdout.write(`${JSON.stringify({ result })}\n`);
        io.stderr.write(messages[result]);
        return EXIT.refused;
      }
    }
    return EXIT.usage;
  } catch (error) {
    // A database failing mid-command (a lost connection, a table of another shape): say so, no stack.
    io.stderr.write(`trpc-idempotency ${command}: the database failed: ${rootMessage(error)}\n`);
    return EXIT.unavailable;
  } finally {
    await admin.close();
  }
}

/** The innermost cause's message: the database's own words, not the query that carried them. */
function rootMessage(error: unknown): string {
  let current = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      'database-url': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      'show-response': { type: 'boolean' },
      'dry-run': { type: 'boolean' },
      'batch-size': { type: 'string' },
      force: { type: 'boolean' },
    },
  });
}

/**
 * `--batch-size`: digits only, 1 to {@link MAX_BATCH_SIZE}. `Number()` alone
 * would let `1e20`, `0x10` or ` 5` through, and a database would then
 * reject (or misread) the limit mid-purge.
 */
function parseBatchSize(value: string | undefined): number | undefined {
  if (value === undefined) return 1000;
  if (!/^[1-9][0-9]{0,6}$/.test(value)) return undefined;
  const size = Number(value);
  return size <= MAX_BATCH_SIZE ? size : undefined;
}

function progressBar(stream: Io['stderr'], total: number) {
  const width = 30;
  return (done: number) => {
    const ratio = total === 0 ? 1 : Math.min(1, done / total);
    const filled = Math.round(ratio * width);
    stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} purged`);
  };
}

function iso(ms: number) {
  return new Date(ms).toISOString();
}

function ago(ms: number) {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
