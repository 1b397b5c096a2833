/** Latency figures of one contender, in microseconds. */
export interface LatencySummary {
  /** How many timed calls the figures come from. */
  samples: number;
  p50Us: number;
  p75Us: number;
  p99Us: number;
  meanUs: number;
  minUs: number;
  maxUs: number;
}

/** The value below which `q` of the sorted values lie (nearest rank). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] as number;
}

/** The middle value; the mean of the two middle ones for an even count. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Summarizes durations given in `unit` nanoseconds-per-value (1 for ns, 1000 for µs). */
export function summarize(values: readonly number[], nsPerUnit: number): LatencySummary {
  const sorted = Float64Array.from(values, (v) => (v * nsPerUnit) / 1000).sort();
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    samples: sorted.length,
    p50Us: percentile(sorted, 0.5),
    p75Us: percentile(sorted, 0.75),
    p99Us: percentile(sorted, 0.99),
    meanUs: sum / sorted.length,
    minUs: sorted[0] ?? Number.NaN,
    maxUs: sorted[sorted.length - 1] ?? Number.NaN,
  };
}
