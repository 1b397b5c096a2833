import { Session } from 'node:inspector/promises';
import { findSourceMap, type SourceMap } from 'node:module';
import { relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { collectGarbage } from './gc';
import { formatMicros, renderTable } from './report';

/** A V8 CPU profile, as `Profiler.stop` returns it and DevTools loads it (`.cpuprofile`). */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

/**
 * Profiles `run` called back to back for `seconds`, in this process, with
 * V8's sampling profiler (what `node --cpu-prof` uses) started and stopped
 * around the loop only: set-up and warm-up stay out of the profile.
 */
export async function profileCalls(opts: {
  run: () => unknown;
  seconds: number;
  /** Sampling interval in µs (`--cpu-prof-interval`; Node's default is 1000). */
  intervalUs: number;
}): Promise<{ profile: CpuProfile; calls: number }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: opts.intervalUs });
    collectGarbage();
    await session.post('Profiler.start');
    const deadline = performance.now() + opts.seconds * 1000;
    let calls = 0;
    while (performance.now() < deadline) {
      for (let i = 0; i < 100; i++) await opts.run();
      calls += 100;
    }
    const { profile } = await session.post('Profiler.stop');
    return { profile: toSourcePositions(profile as CpuProfile), calls };
  } finally {
    session.disconnect();
  }
}

/**
 * tsx runs TypeScript transpiled and whitespace-minified (every function on
 * line 1), with source maps: each function's position is mapped back to its
 * line in the `.ts` source, in the profile itself, so DevTools and the
 * summary point at the source.
 */
function toSourcePositions(profile: CpuProfile): CpuProfile {
  const maps = new Map<string, SourceMap | undefined>();
  for (const { callFrame } of profile.nodes) {
    if (!callFrame.url.startsWith('file:')) continue;
    if (!maps.has(callFrame.url)) maps.set(callFrame.url, findSourceMap(callFrame.url));
    const entry = maps.get(callFrame.url)?.findEntry(callFrame.lineNumber, callFrame.columnNumber);
    if (entry && 'originalLine' in entry) {
      callFrame.lineNumber = entry.originalLine;
      callFrame.columnNumber = entry.originalColumn;
    }
  }
  return profile;
}

/** Where a function's time goes, for the summary: a package, the library, the runtime. */
export function areaOf(url: string, functionName: string, repositoryRoot: string): string {
  if (url === '') {
    return functionName.startsWith('(')
      ? functionName
      : 'native (better-sqlite3 statements, crypto, V8 builtins)';
  }
  if (url.startsWith('node:')) return 'Node internals';
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  const lastModules = path.lastIndexOf(`${sep}node_modules${sep}`);
  if (lastModules !== -1) {
    const [first, second] = path.slice(lastModules + '/node_modules/'.length).split(sep);
    return first?.startsWith('@') ? `${first}/${second}` : (first ?? 'node_modules');
  }
  const inRepository = relative(repositoryRoot, path);
  if (inRepository.startsWith(`packages${sep}trpc-idempotency${sep}`)) return 'trpc-idempotency';
  if (inRepository.startsWith(`apps${sep}server${sep}`)) return 'the example (apps/server)';
  if (inRepository.startsWith(`bench${sep}`)) return 'bench';
  return 'other';
}

function where(url: string, lineNumber: number, repositoryRoot: string) {
  if (url === '') return '';
  const path = url.startsWith('file:') ? fileURLToPath(url) : url;
  const lastModules = path.lastIndexOf(`${sep}node_modules${sep}`);
  const shown =
    lastModules !== -1
      ? path.slice(lastModules + '/node_modules/'.length)
      : path.startsWith(repositoryRoot)
        ? relative(repositoryRoot, path)
        : path;
  return `${shown}:${lineNumber + 1}`;
}

interface Tally {
  label: string;
  area: string;
  us: number;
}

/**
 * The profile in three tables, per call: self time by area, the functions
 * with the most self time, and the library's functions by inclusive time
 * (their own time and their callees', each sample counted once).
 */
export function summarizeProfile(
  profile: CpuProfile,
  opts: { calls: number; repositoryRoot: string; top: number },
): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const keyOf = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    return `${functionName || '(anonymous)'} ${where(url, lineNumber, opts.repositoryRoot)}`.trim();
  };
  const self = new Map<string, Tally>();
  const inclusive = new Map<string, Tally>();
  const areas = new Map<string, number>();
  const add = (map: Map<string, Tally>, node: ProfileNode, us: number) => {
    const label = keyOf(node);
    const tally = map.get(label) ?? {
      label,
      area: areaOf(node.callFrame.url, node.callFrame.functionName, opts.repositoryRoot),
      us: 0,
    };
    tally.us += us;
    map.set(label, tally);
    return tally;
  };
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node) return;
    totalUs += us;
    const tally = add(self, node, us);
    areas.set(tally.area, (areas.get(tally.area) ?? 0) + us);
    const seen = new Set<string>();
    for (let at: ProfileNode | undefined = node; at; at = byId.get(parent.get(at.id) ?? -1)) {
      const label = keyOf(at);
      if (seen.has(label)) continue;
      seen.add(label);
      add(inclusive, at, us);
    }
  });

  const perCall = (us: number) => formatMicros(us / opts.calls);
  const share = (us: number) => `${((us / totalUs) * 100).toFixed(1)} %`;
  const sorted = (tallies: Iterable<Tally>) => [...tallies].sort((a, b) => b.us - a.us);
  const library = sorted(inclusive.values())
    .filter((t) => t.area === 'trpc-idempotency')
    .slice(0, opts.top)
    .map((t) => [t.label, perCall(t.us), share(t.us)]);
  const style = 'console' as const;
  const left = (title: string) => ({ title, align: 'left' as const });
  const right = (title: string) => ({ title, align: 'right' as const });
  return [
    `${opts.calls} calls, ${(totalUs / 1000).toFixed(0)} ms sampled: ${perCall(totalUs)} µs per call`,
    '',
    'Self time by area',
    renderTable(
      [left('area'), right('µs/call'), right('share')],
      [...areas].sort((a, b) => b[1] - a[1]).map(([area, us]) => [area, perCall(us), share(us)]),
      style,
    ),
    '',
    `Top ${opts.top} functions by self time`,
    renderTable(
      [left('function'), left('area'), right('µs/call'), right('share')],
      sorted(self.values())
        .slice(0, opts.top)
        .map((t) => [t.label, t.area, perCall(t.us), share(t.us)]),
      style,
    ),
    '',
    `Top ${opts.top} trpc-idempotency functions by inclusive time (callees included)`,
    library.length === 0
      ? '  none: the library does not run here'
      : renderTable([left('function'), right('µs/call'), right('share')], library, style),
  ].join('\n');
}
