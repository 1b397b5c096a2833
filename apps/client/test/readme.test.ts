/**
 * The README's code blocks, run: the demo commands (with their sample
 * output's figures), the `ledger` commands against a real server, and the
 * retry report of a lost answer.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFaultProxy, startLedgerServer } from '@ledger/testkit';
import { describe, expect, it } from 'vitest';
import rootPackage from '../../../package.json' with { type: 'json' };
import { runCli } from '../src/cli';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```([^\n]*)\n([\s\S]*?)\n```/g)].map((match) => ({
  lang: match[1] ?? '',
  body: match[2] ?? '',
}));
const shellBlocks = blocks.filter(({ lang }) => lang === 'sh');
const textBlocks = blocks.filter(({ lang }) => lang === '' || lang === 'text');

/** Runs the `ledger` CLI in this process, as `pnpm demo` and `ledger …` do. */
async function ledger(argv: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env,
  });
  return { code, stdout, stderr };
}

/** A README output line as a pattern: `…` stands for anything, digits for any number. */
function shownAs(line: string, opts: { anyNumber?: boolean } = {}) {
  const escaped = line
    .split('…')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('.+');
  return new RegExp(`^${opts.anyNumber ? escaped.replace(/\d+/g, '\\d+') : escaped}$`);
}

/** A shell line as the command and the comment after it. */
function commandOf(line: string) {
  const [command = '', comment] = line.split(/\s+# /);
  return { argv: command.trim().split(/\s+/), comment: comment?.trim() };
}

it('has only shell and text blocks, and pnpm demo is the root script', () => {
  for (const { lang } of blocks) expect(['sh', '', 'text']).toContain(lang);
  expect(rootPackage.scripts.demo).toBe('pnpm --filter @ledger/client demo');
});

it('runs the demo commands; the sample output has the real output’s lines', async () => {
  const demo = shellBlocks.find(({ body }) => body.startsWith('pnpm demo'))!;
  const runs = [];
  for (const line of demo.body.split('\n')) {
    const { argv } = commandOf(line);
    expect(argv.slice(0, 2)).toEqual(['pnpm', 'demo']);
    const result = await ledger(['demo', ...argv.slice(2)]);
    expect(result.stdout, line).toContain('All checks passed');
    expect(result.code, line).toBe(0);
    runs.push(result.stdout);
  }
  // The sample is seed 42 with 300 transfers: the first command's run. Figures that depend on
  // timing (how many transfers found the money) may differ; the lines and labels may not.
  const sample = textBlocks.find(({ body }) => body.startsWith('Client'))!;
  const real = runs[0]!.split('\n');
  for (const line of sample.body.split('\n')) {
    const pattern = shownAs(line, { anyNumber: true });
    expect(
      real.some((each) => pattern.test(each)),
      line,
    ).toBe(true);
  }
}, 120_000);

describe('against a running server', () => {
  it('runs the ledger commands and prints what their comments show', async () => {
    await using server = await startLedgerServer();
    const commands = shellBlocks.find(({ body }) => body.includes('ledger open'))!;
    const env: Record<string, string> = { LEDGER_URL: server.url };
    const ids = new Map<string, string>();
    for (const line of commands.body.split('\n')) {
      if (line.startsWith('export ')) {
        const [name, value] = line
          .replace(/^export /, '')
          .split(/\s+#/)[0]!
          .trim()
          .split('=');
        env[name!] = value!;
        continue;
      }
      const { argv, comment } = commandOf(line);
      expect(argv[0]).toBe('ledger');
      // acc_A and acc_B stand for the ids the two `open` commands print.
      const args = argv.slice(1).map((arg) => ids.get(arg) ?? arg);
      const result = await ledger(args, env);
      expect(result, line).toMatchObject({ code: 0, stderr: '' });
      const opened = /^Opened (acc_\w+)/.exec(result.stdout)?.[1];
      if (opened) ids.set(ids.size === 0 ? 'acc_A' : 'acc_B', opened);
      // A comment that starts with a lower-case word describes; one with output or an id shows it.
      if (comment && (!/^[a-z]/.test(comment) || /^(acc|tr)_/.test(comment))) {
        const expected = [...ids].reduce((text, [name, id]) => text.replaceAll(name, id), comment);
        // The date in a sample is the day it was written: any year matches.
        const pattern = shownAs(expected).source.replace(/\d{4}-/g, '\\d{4}-');
        expect(result.stdout.trimEnd(), line).toMatch(new RegExp(pattern));
      }
    }
  });

  it('reports a retry after a lost answer as the README shows', async () => {
    await using server = await startLedgerServer();
    const env = { LEDGER_URL: server.url, LEDGER_USER: 'alice' };
    const a = /acc_\w+/.exec((await ledger(['open', 'Ann', '50'], env)).stdout)![0];
    const b = /acc_\w+/.exec((await ledger(['open', 'Ben', '0'], env)).stdout)![0];
    await using proxy = await startFaultProxy({
      target: new URL(server.url).origin,
      decide: (n) => (n === 0 ? 'lostResponse' : undefined),
    });
    const moved = await ledger(['transfer', a, b, '5', '--url', `${proxy.url}/trpc`], env);
    expect(moved.code).toBe(0);
    const shown = textBlocks.find(({ body }) => body.startsWith('retrying'))!;
    expect(moved.stderr.trimEnd().split('\n')).toEqual(
      shown.body
        .split('\n')
        .map((line) => expect.stringMatching(shownAs(line, { anyNumber: true }))),
    );
  });
});
