/**
 * How hard the suite pushes. `pnpm test` (CI) runs the small strength; `pnpm
 * test:chaos` sets `RELIABILITY_STRENGTH=full`. Every test runs in both, with
 * different counts, so CI exercises each path.
 */
export type Strength = 'small' | 'full';

export const strength: Strength = process.env['RELIABILITY_STRENGTH'] === 'full' ? 'full' : 'small';

/** `small` under `pnpm test`, `full` under `pnpm test:chaos`. */
export function byStrength<T>(counts: { small: T; full: T }): T {
  return counts[strength];
}

/**
 * The run's base seed: `RELIABILITY_SEED` or a fixed default, so a run is
 * reproducible by default and another seed is one variable away.
 */
export const baseSeed: number = (() => {
  const raw = process.env['RELIABILITY_SEED'];
  if (raw === undefined || raw.trim() === '') return 20_260_105;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed))
    throw new Error(`RELIABILITY_SEED must be an integer; got ${raw}`);
  return seed;
})();

/** A seed of its own for one test, derived from the base seed and the test's name. */
export function seedFor(name: string): number {
  let hash = baseSeed >>> 0;
  for (const char of name) hash = Math.imul(hash ^ char.charCodeAt(0), 0x01000193) >>> 0;
  return hash;
}

/** Prints one line of figures, prefixed so it stands out in the vitest output. */
export function report(test: string, figures: Record<string, unknown>) {
  const fields = Object.entries(figures)
    .map(([name, value]) => `${name}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  process.stdout.write(`[reliability] ${test} strength=${strength} ${fields}\n`);
}
