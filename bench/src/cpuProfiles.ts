import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyedRequest } from './app/benchRequest';
import { completedKey, createSqliteBenchCaller, createSqliteBenchRouter } from './app/router';
import { openBenchSqlite } from './app/sqlite';
import { profileCalls, summarizeProfile } from './harness/cpuProfile';
import type { Progress } from './harness/progress';

const USER = 'user-1';
/** Sampling interval: 100 µs, so a 30 µs replay still lands a sample every few calls. */
const INTERVAL_US = 100;
const WARMUP_CALLS = 2000;

/**
 * `pnpm bench --cpu-prof`: the in-process suite's prepared body (the
 * example's ledger) profiled as plain tRPC, first execution and replay, one
 * profile each, in this process. Each runs warm (JIT, caches, WAL) and is
 * sampled for a fixed time; the `.cpuprofile` files open in Chrome DevTools,
 * VS Code or speedscope, and a summary per profile is printed and written
 * next to them.
 */
export async function runCpuProfiles(opts: {
  quick: boolean;
  outDir: string;
  repositoryRoot: string;
  progress: Progress;
}): Promise<string[]> {
  const seconds = opts.quick ? 1 : 5;
  const dir = join(opts.outDir, 'profiles');
  mkdirSync(dir, { recursive: true });
  await using database = await openBenchSqlite('cpu-prof');
  const { request } = database;
  const caller = createSqliteBenchCaller(createSqliteBenchRouter(database), USER).prepared;
  const replayKey = await completedKey((idempotencyKey) =>
    caller.idempotent(keyedRequest(request, idempotencyKey)),
  );

  const targets = [
    { name: 'plain', what: 'plain tRPC mutation', run: () => caller.plain(request) },
    {
      name: 'first-execution',
      what: 'idempotent, first execution',
      run: () => caller.idempotent(keyedRequest(request, randomUUID())),
    },
    {
      name: 'replay',
      what: 'idempotent, replay',
      run: () => caller.idempotent(keyedRequest(request, replayKey)),
    },
  ];
  opts.progress.plan(targets.length * 2);
  const written: string[] = [];
  const summaries: string[] = [];
  for (const target of targets) {
    opts.progress.step(`cpu-prof · warm-up · ${target.what}`);
    for (let i = 0; i < WARMUP_CALLS; i++) await target.run();
    opts.progress.step(`cpu-prof · profiling · ${target.what} (${seconds} s)`);
    const { profile, calls } = await profileCalls({
      run: target.run,
      seconds,
      intervalUs: INTERVAL_US,
    });
    const file = join(dir, `${target.name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    written.push(file);
    const summary = summarizeProfile(profile, {
      calls,
      repositoryRoot: opts.repositoryRoot,
      top: 15,
    });
    summaries.push(`■ ${target.what} — ${target.name}.cpuprofile\n${summary}`);
  }
  const text = `${summaries.join('\n\n')}\n`;
  opts.progress.finish();
  console.log(text);
  const summaryFile = join(dir, 'summary.txt');
  writeFileSync(summaryFile, text);
  written.push(summaryFile);
  return written;
}
