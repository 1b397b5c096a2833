/**
 * The README's code blocks, run: its shell commands against the real server
 * process (on SQLite and on Postgres), and its sample log lines and metrics
 * compared with what that server really prints.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { newKey, startLedgerServer } from '@ledger/testkit';
import { DIALECTS, useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import rootPackage from '../../../package.json' with { type: 'json' };

const serverDir = join(import.meta.dirname, '..');
const readme = readFileSync(join(serverDir, 'README.md'), 'utf8');
const run = promisify(execFile);

/** The fenced blocks of a Markdown text, in order. */
const blocks = [...readme.matchAll(/```([^\n]*)\n([\s\S]*?)\n```/g)].map((match) => ({
  lang: match[1] ?? '',
  body: match[2] ?? '',
}));
const shellBlocks = blocks.filter(({ lang }) => lang === 'sh');

/** Runs a README shell command with bash, pointed at the test server's port. */
async function shell(command: string, port: number) {
  const { stdout } = await run('bash', [
    '-c',
    command.replaceAll('localhost:3000', `127.0.0.1:${port}`),
  ]);
  return stdout;
}

/** The README's `# …` comment after a command, as the output it shows. */
function commentedOutputOf(body: string, command: string) {
  const lines = body.split('\n');
  const at = lines.findIndex((line) => line.startsWith(command));
  return lines[at + 1]?.replace(/^# /, '');
}

const fresh = useFreshDatabases();

it('has only shell, JSON and text blocks', () => {
  for (const { lang } of blocks) expect(['sh', 'json', 'text']).toContain(lang);
  expect(rootPackage.scripts.start).toContain('apps/server/src/main.ts');
});

describe.each(DIALECTS)('on %s', (dialect) => {
  it('answers the first block’s curl as shown, and logs events as the Logs section shows', async () => {
    const [first] = shellBlocks;
    expect(first?.body).toMatch(/^pnpm start/);
    // `pnpm start`, and the same with a postgres:// DATABASE_URL: the process the root script starts.
    await using server = await startLedgerServer({ databaseUrl: await fresh.create(dialect) });
    const command = 'curl -s localhost:3000/trpc/health';
    expect(await shell(command, server.port)).toBe(commentedOutputOf(first!.body, command));

    const input = { idempotencyKey: newKey(), owner: 'Ann', initialBalance: 5 };
    expect((await server.mutate('accounts.open', input)).status).toBe(200);
    expect((await server.mutate('accounts.open', input)).status).toBe(200);
    const shown = blocks
      .find(({ lang }) => lang === 'json')!
      .body.split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    for (const line of shown) {
      const logged = await server.waitForLog(
        (entry) => entry.msg === line['msg'] && entry['path'] === 'accounts.open',
      );
      expect(Object.keys(logged).sort(), String(line['msg'])).toEqual(Object.keys(line).sort());
      expect(logged).toMatchObject({ level: line['level'], scope: line['scope'] });
    }
  });
});

it('serves /metrics as the Metrics section shows', async () => {
  await using server = await startLedgerServer();
  const input = { idempotencyKey: newKey(), owner: 'Ann', initialBalance: 5 };
  await server.mutate('accounts.open', input);
  await server.mutate('accounts.open', input);
  await fetch(`${server.url}/health`);
  const command = shellBlocks.find(({ body }) => body.includes('/metrics'))?.body ?? '';
  expect(command).toBe('curl -s localhost:3000/metrics');
  const exposition = (await shell(command, server.port)).split('\n');
  const shown = blocks.find(({ lang, body }) => lang === 'text' && body.startsWith('# HELP'));
  for (const line of shown!.body.split('\n')) {
    if (line === '…') continue;
    if (line.startsWith('#')) {
      // HELP lines are shortened with "…" in the README: the part before it must match.
      const prefix = line.split('…')[0]!;
      expect(
        exposition.some((real) => real.startsWith(prefix)),
        line,
      ).toBe(true);
    } else {
      const series = line.slice(0, line.lastIndexOf(' '));
      expect(
        exposition.some((real) => real.startsWith(`${series} `)),
        line,
      ).toBe(true);
    }
  }
});

it('names, in its longer storm commands, test files and variables that exist (not run: minutes long)', () => {
  const storm = shellBlocks.find(({ body }) => body.includes('MULTIPROCESS_KEYS'));
  // Where the storm tests read their variables (DATABASE_URL: the shared Postgres helper).
  const sources = [
    'test/multiprocess/sqlite.test.ts',
    'test/multiprocess/postgres.test.ts',
    'test/multiprocess/duplicateStorm.ts',
    '../../testkit/src/databases/postgres.ts',
  ]
    .map((file) => readFileSync(join(serverDir, file), 'utf8'))
    .join('\n');
  for (const line of storm!.body.split('\n').filter((l) => l.includes('vitest run'))) {
    for (const path of line.match(/test\/\S+/g) ?? []) {
      expect(existsSync(join(serverDir, path)), path).toBe(true);
    }
    for (const variable of line.match(/\b[A-Z][A-Z_]+(?==)/g) ?? []) {
      expect(sources, variable).toContain(variable);
    }
  }
});
