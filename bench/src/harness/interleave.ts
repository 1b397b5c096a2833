import { measure } from 'mitata';
import { collectGarbage } from './gc';
import type { Progress } from './progress';
import { type LatencySummary, median, summarize } from './stats';

/** One thing to time: a call that is awaited if it returns a promise. */
/** How the interleaved suites time a call, for their settings in the report. */
export const MITATA_TIMING = 'mitata, one timed call per sample, GC between measurements';

export interface Contender {
  id: string;
  label: string;
  run: () => unknown;
}

export interface InterleaveOptions {
  /** Rounds of every contender, each in a rotated order. */
  rounds: number;
  /** Time budget of one contender in one round. */
  roundMs: number;
  /** Untimed run of every contender before the first round (JIT, caches, WAL). */
  warmupMs: number;
  progress: Progress;
  /** Prefix of the progress lines. */
  title: string;
  /** Runs untimed after each round (e.g. to undo what the round added). */
  afterRound?: () => void;
}

export interface ContenderResult {
  id: string;
  label: string;
  /** Every timed call of every round. */
  latency: LatencySummary;
  /** The median of each round, in round order: ratios are taken round by round. */
  roundP50Us: number[];
  /** The p99 of each round, in round order. */
  roundP99Us: number[];
}

/** Progress steps {@link interleave} takes for `contenders` contenders. */
export function interleaveSteps(contenders: number, opts: { rounds: number }) {
  return contenders * (opts.rounds + 1);
}

/** Each contender's result by id, from `interleave`'s map: an id it did not time is a bug in the suite. */
export function resultsById(results: Map<string, ContenderResult>) {
  return (id: string): ContenderResult => {
    const result = results.get(id);
    if (!result) throw new Error(`no result for ${id}`);
    return result;
  };
}

/**
 * Times the contenders side by side with mitata: a warm-up of each, then
 * rounds in which every contender runs for `roundMs` (a garbage collection
 * before each). The order rotates from round to round, so drift on a shared
 * machine (other processes, a growing WAL, a checkpoint) falls on every
 * contender alike. Each call is timed on its own (no batching), so the
 * percentiles are per call.
 */
export async function interleave(
  contenders: readonly Contender[],
  opts: InterleaveOptions,
): Promise<Map<string, ContenderResult>> {
  for (const contender of contenders) {
    opts.progress.step(`${opts.title} · warm-up · ${contender.label}`);
    await measure(contender.run, {
      batch_threshold: 0,
      min_cpu_time: opts.warmupMs * 1e6,
      gc: false,
    });
  }
  const samples = new Map<string, number[]>(contenders.map((c) => [c.id, []]));
  const roundP50 = new Map<string, number[]>(contenders.map((c) => [c.id, []]));
  const roundP99 = new Map<string, number[]>(contenders.map((c) => [c.id, []]));
  for (let round = 0; round < opts.rounds; round++) {
    const shift = round % contenders.length;
    const order = [...contenders.slice(shift), ...contenders.slice(0, shift)];
    for (const contender of order) {
      opts.progress.step(`${opts.title} · round ${round + 1}/${opts.rounds} · ${contender.label}`);
      const stats = await measure(contender.run, {
        batch_threshold: 0,
        min_samples: 20,
        min_cpu_time: opts.roundMs * 1e6,
        gc: collectGarbage,
      });
      samples.get(contender.id)?.push(...stats.samples);
      roundP50.get(contender.id)?.push(stats.p50 / 1000);
      roundP99.get(contender.id)?.push(stats.p99 / 1000);
    }
    opts.afterRound?.();
  }
  return new Map(
    contenders.map((c) => [
      c.id,
      {
        id: c.id,
        label: c.label,
        latency: summarize(samples.get(c.id) ?? [], 1),
        roundP50Us: roundP50.get(c.id) ?? [],
        roundP99Us: roundP99.get(c.id) ?? [],
      },
    ]),
  );
}

/** The median over rounds of `a`'s round median divided by `b`'s in the same round. */
export function roundRatio(a: ContenderResult, b: ContenderResult): number {
  return median(a.roundP50Us.map((value, round) => value / (b.roundP50Us[round] ?? Number.NaN)));
}

/**
 * The median over rounds of `a`'s p99 divided by `b`'s in the same round: a
 * burst of load on the shared machine lands in one round of one contender,
 * where the p99 of all calls would carry it into the whole run's figure.
 */
export function roundP99Ratio(a: ContenderResult, b: ContenderResult): number {
  return median(a.roundP99Us.map((value, round) => value / (b.roundP99Us[round] ?? Number.NaN)));
}

/**
 * The median over rounds of `a`'s round median minus `b`'s in the same round,
 * in µs: what `a` adds to `b`, with the drift between rounds cancelled out.
 */
export function roundDifference(a: ContenderResult, b: ContenderResult): number {
  return median(a.roundP50Us.map((value, round) => value - (b.roundP50Us[round] ?? Number.NaN)));
}
