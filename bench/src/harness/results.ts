import type { LatencySummary } from './stats';

/** Where and when the numbers were taken. */
export interface MachineInfo {
  date: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryGiB: number;
  loadAverageAtStart: number[];
  os: string;
  node: string;
  v8: string;
  sqlite: string;
  gitCommit: string | null;
  /** Whether packages/trpc-idempotency had uncommitted changes: then the revision is not the whole story. */
  libraryDirty: boolean | null;
  /** What ran: the built package (`dist/`, what users install) or its TypeScript source through tsx. */
  library: 'built' | 'source';
}

/** HTTP figures of one contender under load. */
export interface HttpSummary {
  requestsPerSec: number;
  /** Latency per request as the load generator saw it, in milliseconds. */
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Connection errors, timeouts and non-2xx answers. */
  failures: number;
  durationS: number;
  /**
   * The server process's CPU time per answered request, in µs: what a request
   * costs the server whatever the load generator gets of the machine.
   */
  serverCpuUs: number;
}

/** One line of a result table. */
export interface ResultRow {
  id: string;
  label: string;
  latency?: LatencySummary;
  http?: HttpSummary;
  /** Postgres: queries sent per call, each one round trip (counted in a pass of its own). */
  roundTrips?: number;
  /** Postgres: the queries of one call, in order (JSON only). */
  statements?: string[];
  /** Comparisons to other rows of the same suite, measured in this run. */
  ratios: RowRatio[];
}

/**
 * This row's figure against row `to`'s, shown in the table column `column`:
 * a quotient (`× …`), or for `median latency difference` a difference in µs
 * (this row's round median minus `to`'s in the same round, median over rounds).
 */
export interface RowRatio {
  column: string;
  to: string;
  what:
    | 'median latency'
    | 'p99 latency'
    | 'throughput'
    | 'server CPU per request'
    | 'median latency difference';
  value: number;
}

/** What a target's figure is: a quotient, a time in µs, or a count of round trips. */
export type TargetUnit = 'ratio' | 'µs' | 'round trips';

/** A target of issue #23 (#12's, tightened), checked against this run. */
export interface TargetCheck {
  id: string;
  description: string;
  limit: number;
  comparison: '<=' | '>=';
  unit: TargetUnit;
  measured: number;
  met: boolean;
}

export interface SuiteResult {
  id: SuiteId;
  title: string;
  /** What was measured, for the reader of BENCHMARKS.md. */
  description: string;
  settings: Record<string, unknown>;
  rows: ResultRow[];
  targets: TargetCheck[];
  /** Sanity checks and caveats observed during the run. */
  notes: string[];
  /** Set when the suite could not run; the reason. */
  skipped?: string;
}

export const SUITE_IDS = ['in-process', 'http', 'growth', 'postgres', 'drivers'] as const;
/**
 * Suites a full run leaves out: only `--only` runs them, and `--update-benchmarks`
 * writes each into a section of BENCHMARKS.md of its own (its own markers).
 */
export const OPT_IN_SUITES: readonly SuiteId[] = ['drivers'];
export type SuiteId = (typeof SUITE_IDS)[number];

export interface BenchResults {
  machine: MachineInfo;
  command: string;
  quick: boolean;
  durationS: number;
  suites: SuiteResult[];
}

export function checkTarget(opts: Omit<TargetCheck, 'met'>): TargetCheck {
  const met = opts.comparison === '<=' ? opts.measured <= opts.limit : opts.measured >= opts.limit;
  return { ...opts, met };
}
