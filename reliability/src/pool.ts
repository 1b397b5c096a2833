/** Runs `work` over `items` with at most `concurrency` at a time; results in item order. */
export async function runPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number, worker: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async (_, worker) => {
      while (next < items.length) {
        const index = next++;
        results[index] = await work(items[index]!, index, worker);
      }
    }),
  );
  return results;
}

/** Resolves after `ms`. */
export function sleep(ms: number) {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `everyMs` until it returns a value other than `undefined`, or fails after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  opts: { timeoutMs?: number; everyMs?: number } = {},
): Promise<T> {
  const deadline = performance.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(opts.everyMs ?? 10);
  }
}

/**
 * Resolves once the process `pid` is stopped (after a SIGSTOP): its state in
 * `/proc/<pid>/stat` is `T`. Where there is no `/proc`, waits 100 ms instead.
 */
export async function waitStopped(pid: number) {
  const { readFileSync } = await import('node:fs');
  const state = () => {
    try {
      return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    } catch {
      return undefined;
    }
  };
  if (state() === undefined) {
    await sleep(100);
    return;
  }
  await waitUntil(`process ${pid} is stopped`, () => (state() === 'T' ? true : undefined), {
    everyMs: 2,
  });
}
