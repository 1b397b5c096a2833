import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCpuProfiles } from './cpuProfiles';
import { describeMachine } from './harness/machine';
import { Progress } from './harness/progress';
import { formatConsole, formatMarkdown } from './harness/report';
import {
  type BenchResults,
  OPT_IN_SUITES,
  SUITE_IDS,
  type SuiteId,
  type SuiteResult,
} from './harness/results';
import type { Suite } from './harness/suite';
import { runDriversSuite } from './suites/drivers';
import { runGrowthSuite } from './suites/growth';
import { runHttpSuite } from './suites/http';
import { runInProcessSuite } from './suites/inProcess';
import { runPostgresSuite } from './suites/postgres';

const benchDir = fileURLToPath(new URL('..', import.meta.url));
const repositoryRoot = join(benchDir, '..');
const benchmarksFile = join(repositoryRoot, 'BENCHMARKS.md');
const MARKER_START = '<!-- bench:results:start -->';
const MARKER_END = '<!-- bench:results:end -->';

const suites: Record<SuiteId, Suite> = {
  'in-process': runInProcessSuite,
  http: runHttpSuite,
  growth: runGrowthSuite,
  postgres: runPostgresSuite,
  drivers: runDriversSuite,
};

const usage = `Usage: pnpm bench [--quick] [--only <suite>[,<suite>…]] [--update-benchmarks] [--out <dir>]
       pnpm bench --cpu-prof [--quick] [--out <dir>]

  --quick              short runs: a smoke check of the harness, not figures to publish
  --only <suites>      run only these suites: ${SUITE_IDS.join(', ')}
  --update-benchmarks  also write the results into BENCHMARKS.md (between its markers);
                       with --only ${OPT_IN_SUITES.join(', ')}: that suite's own section
                       (${OPT_IN_SUITES.join(', ')}: not part of a full run, only with --only)
  --out <dir>          where latest.json and latest.md go (default bench/results)
  --cpu-prof           no suites: CPU profiles of plain tRPC, the first execution and the
                       replay (in process, the example's ledger), in <out>/profiles/`;

function parseCommandLine() {
  try {
    return parseArgs({
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        'update-benchmarks': { type: 'boolean', default: false },
        out: { type: 'string' },
        'cpu-prof': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }).values;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function main() {
  const values = parseCommandLine();
  if (values.help) {
    console.log(usage);
    return;
  }
  const optInSection =
    values.only && OPT_IN_SUITES.includes(values.only.trim() as SuiteId)
      ? (values.only.trim() as SuiteId)
      : undefined;
  if (values['update-benchmarks'] && (values.quick || (values.only && !optInSection))) {
    throw new UsageError(
      `--update-benchmarks takes a full run (no --quick, no --only) or --only with one of ${OPT_IN_SUITES.join(', ')}`,
    );
  }
  const outDir = values.out ?? join(benchDir, 'results');
  if (values['cpu-prof']) {
    if (values.only || values['update-benchmarks']) {
      throw new UsageError('--cpu-prof runs no suites: no --only, no --update-benchmarks');
    }
    const written = await runCpuProfiles({
      quick: values.quick,
      outDir,
      repositoryRoot,
      progress: new Progress(),
    });
    console.log(`wrote ${written.map((file) => relative(process.cwd(), file)).join(', ')}`);
    return;
  }
  const selected = selectSuites(values.only);
  const command = [
    'pnpm bench',
    values.quick ? '--quick' : '',
    values.only ? `--only ${values.only}` : '',
  ]
    .filter(Boolean)
    .join(' ');

  const machine = describeMachine(repositoryRoot);
  const progress = new Progress();
  const started = performance.now();
  progress.note(
    `trpc-idempotency benchmarks${values.quick ? ' (quick)' : ''}: ${selected.join(', ')}`,
  );
  const results: SuiteResult[] = [];
  for (const id of selected) {
    results.push(await suites[id]({ quick: values.quick, progress }));
  }
  progress.finish();

  const report: BenchResults = {
    machine,
    command,
    quick: values.quick,
    durationS: (performance.now() - started) / 1000,
    suites: results,
  };
  console.log(formatConsole(report));

  mkdirSync(outDir, { recursive: true });
  const markdown = formatMarkdown(report);
  const written = [join(outDir, 'latest.json'), join(outDir, 'latest.md')];
  writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(outDir, 'latest.md'), markdown);
  if (values['update-benchmarks']) {
    updateBenchmarksFile(markdown, optInSection);
    written.push(benchmarksFile);
  }
  formatLikeTheRepository(written);
  console.log(`\nwrote ${written.map((file) => relative(process.cwd(), file)).join(', ')}`);
}

function selectSuites(only: string | undefined): SuiteId[] {
  if (!only) return SUITE_IDS.filter((id) => !OPT_IN_SUITES.includes(id));
  const names = only.split(',').map((name) => name.trim().replace(/^inprocess$/, 'in-process'));
  for (const name of names) {
    if (!(SUITE_IDS as readonly string[]).includes(name)) {
      throw new UsageError(`unknown suite "${name}": choose from ${SUITE_IDS.join(', ')}`);
    }
  }
  return SUITE_IDS.filter((id) => names.includes(id));
}

/**
 * Replaces the generated section of BENCHMARKS.md (`bench:results`, or an
 * opt-in suite's own `bench:<suite>`), leaving the hand-written text alone.
 */
function updateBenchmarksFile(markdown: string, optInSuite?: SuiteId) {
  const current = readFileSync(benchmarksFile, 'utf8');
  const markerStart = optInSuite ? `<!-- bench:${optInSuite}:start -->` : MARKER_START;
  const markerEnd = optInSuite ? `<!-- bench:${optInSuite}:end -->` : MARKER_END;
  const start = current.indexOf(markerStart);
  const end = current.indexOf(markerEnd);
  if (start === -1 || end < start) {
    throw new Error(`${benchmarksFile} has no ${markerStart} … ${markerEnd} section to update`);
  }
  const next = `${current.slice(0, start + markerStart.length)}\n\n${markdown}\n${current.slice(end)}`;
  mkdirSync(dirname(benchmarksFile), { recursive: true });
  writeFileSync(benchmarksFile, next);
}

/** The repository's formatter owns the layout: `pnpm lint` must pass on committed results. */
function formatLikeTheRepository(files: string[]) {
  try {
    const biome = createRequire(join(repositoryRoot, 'package.json')).resolve(
      '@biomejs/biome/bin/biome',
    );
    execFileSync(process.execPath, [biome, 'format', '--write', ...files], {
      cwd: repositoryRoot,
      stdio: 'ignore',
    });
  } catch {
    console.error('note: biome could not format the results; run `pnpm format` before committing');
  }
}

class UsageError extends Error {}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`${error.message}\n\n${usage}`);
    process.exitCode = 2;
    return;
  }
  console.error(error);
  process.exitCode = 1;
});
