import { execFileSync } from 'node:child_process';
import { arch, cpus, loadavg, release, totalmem, type } from 'node:os';
import Database from 'better-sqlite3';
import type { MachineInfo } from './results';

/** The machine, runtime and source revision the numbers belong to. */
export function describeMachine(repositoryRoot: string): MachineInfo {
  const cpuList = cpus();
  const memory = new Database(':memory:');
  const { version } = memory.prepare('SELECT sqlite_version() AS version').get() as {
    version: string;
  };
  memory.close();
  return {
    date: new Date().toISOString(),
    cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
    cpuCount: cpuList.length,
    totalMemoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadavg().map((load) => Math.round(load * 100) / 100),
    os: `${type()} ${release()} ${arch()}`,
    node: process.version,
    v8: process.versions.v8,
    sqlite: version,
    gitCommit: git(repositoryRoot, ['rev-parse', '--short', 'HEAD']),
    libraryDirty: dirty(repositoryRoot, 'packages/trpc-idempotency'),
    library: libraryConditions().length > 0 ? 'source' : 'built',
  };
}

/**
 * The `--conditions` flag this process runs under, if it resolves the
 * library to its TypeScript source (`pnpm bench:source`); none when it runs
 * the built package, as users do (`pnpm bench`). Child processes get the same.
 */
export function libraryConditions(): string[] {
  const resolved = import.meta.resolve('trpc-idempotency');
  return resolved.includes('/src/') ? ['--conditions=@trpc-idempotency/source'] : [];
}

// Read-only git queries: which revision was measured, and whether the tree had edits.
function git(cwd: string, args: string[]): string | null {
  try {
    return execFileSync('git', args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

/** Whether the measured library differs from the commit (other folders do not count). */
function dirty(cwd: string, path: string): boolean | null {
  const status = git(cwd, ['status', '--porcelain', '--', path]);
  return status === null ? null : status !== '';
}
