/**
 * The README shows the examples verbatim (each TypeScript or TSX block is
 * marked with the file it shows), its install lines cover what the Quickstart
 * imports, and its CLI commands run. The examples themselves run in
 * `examples.test.ts` and, the React ones, `examples.reactQuery.test.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import packageJson from '../package.json' with { type: 'json' };
import { EXIT } from '../src/cli/runCli';
import { runCliCaptured } from './helpers/cli';
import { examplesFolder } from './helpers/examples';
import { manualClock, sqliteTestDatabase } from './helpers/sqliteApp';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** Every fenced block, with its language and the HTML comment just above it, if any. */
function codeBlocks(markdown: string) {
  return [...markdown.matchAll(/(?:<!-- ([^\n]*?) -->\n)?```([^\n]*)\n([\s\S]*?)\n```/g)].map(
    (match) => ({ marker: match[1], lang: match[2], body: match[3] ?? '' }),
  );
}

const blocks = codeBlocks(readme);

describe('the package README', () => {
  it('shows every TypeScript and TSX block verbatim from a file of examples/, and every example', () => {
    const shown = new Set<string>();
    for (const block of blocks) {
      expect(['ts', 'tsx', 'sh', 'text'], `a \`\`\`${block.lang} block`).toContain(block.lang);
      if (block.lang !== 'ts' && block.lang !== 'tsx') continue;
      const file = /^example: (examples\/\S+)$/.exec(block.marker ?? '')?.[1];
      expect(file, `a ${block.lang} block without an example marker:\n${block.body}`).toBeDefined();
      expect(file!.endsWith(`.${block.lang}`), `${file} shown as ${block.lang}`).toBe(true);
      expect(block.body, file).toBe(readFileSync(join(root, file!), 'utf8').trimEnd());
      shown.add(file!);
    }
    const examples = readdirSync(examplesFolder, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts') || file.endsWith('.tsx'))
      .map((file) => `examples/${file}`);
    expect([...shown].sort()).toEqual(examples.sort());
  });

  it('marks every shell block as the install lines or the CLI', () => {
    for (const block of blocks.filter(({ lang }) => lang === 'sh')) {
      expect(['install', 'cli']).toContain(block.marker);
    }
  });

  it('installs, with npm and with pnpm, every package the Quickstart imports', () => {
    const install = blocks.find(({ marker }) => marker === 'install')?.body ?? '';
    const npm = /^npm install (.+)$/m.exec(install)?.[1]?.split(' ');
    const pnpm = /^pnpm add (.+)$/m.exec(install)?.[1]?.split(' ');
    expect(npm).toEqual(pnpm);
    const imported = new Set<string>();
    for (const file of readdirSync(join(examplesFolder, 'quickstart'))) {
      const source = readFileSync(join(examplesFolder, 'quickstart', file), 'utf8');
      for (const [, specifier] of source.matchAll(/from '([^'.][^']*)'/g)) {
        if (specifier!.startsWith('node:')) continue;
        const [scope, name] = specifier!.split('/');
        imported.add(scope!.startsWith('@') ? `${scope}/${name}` : scope!);
      }
    }
    expect([...imported].sort()).toEqual([...(npm ?? [])].sort());
  });

  it('links only to its own sections, from itself and from the source’s `README.md#…` references', () => {
    const slug = (heading: string) =>
      heading
        .toLowerCase()
        .replace(/[^\w\- ]/g, '')
        .replaceAll(' ', '-');
    const sections = new Set(
      [...readme.matchAll(/^#{2,3} (.+)$/gm)].map((match) => slug(match[1]!)),
    );
    const linked = [...readme.matchAll(/\]\(#([^)]+)\)/g)].map((match) => match[1]!);
    const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => readFileSync(join(root, 'src', file), 'utf8'));
    const referenced = sources.flatMap((source) =>
      [...source.matchAll(/README\.md#([\w-]+)/g)].map((match) => match[1]!),
    );
    for (const anchor of [...linked, ...referenced]) expect(sections, anchor).toContain(anchor);
  });

  it('states the Node range of package.json `engines`', () => {
    expect(readme).toContain(`\`engines\` says \`${packageJson.engines.node}\``);
  });

  it('runs every command of the CLI block', async () => {
    using database = sqliteTestDatabase();
    const clock = manualClock();
    const at = clock.now();
    const claim = (key: string, leaseMs: number) =>
      database.store.claim({
        scope: 'alice',
        key,
        path: 'pay',
        fingerprint: 'f',
        owner: `o-${key}`,
        now: at,
        leaseExpiresAt: at + leaseMs,
        expiresAt: at + 3_600_000,
      });
    await claim('order-4711', 1000);
    await database.store.complete({
      scope: 'alice',
      key: 'order-4711',
      owner: 'o-order-4711',
      outcome: { kind: 'result', body: '{"paid":500}' },
      now: at,
      expiresAt: at + 3_600_000,
    });
    await claim('order-4712', 1000); // its owner crashed: the lease has run out below
    await claim('order-4713', 3_600_000); // still running
    const cli = blocks.find(({ marker }) => marker === 'cli')?.body ?? '';
    const commands = cli.split('\n').map((line) => line.replace(/#.*$/, '').trim().split(/\s+/));
    expect(commands.length).toBeGreaterThan(5);
    for (const [bin, ...argv] of commands) {
      expect(bin).toBe('trpc-idempotency');
      const result = await runCliCaptured(argv, {
        databaseUrl: `file:${database.file}`,
        now: at + 10_000,
      });
      expect(result, argv.join(' ')).toMatchObject({ code: EXIT.ok, stderr: '' });
    }
    expect(database.countRecords()).toBe(1);
  });
});
