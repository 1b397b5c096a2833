import type { GaugeCollector } from './metrics';

/** Counts the handlers running, by procedure path, so a shutdown can wait for them. */
export interface HandlerTracker {
  enter(path: string): void;
  leave(path: string): void;
}

/**
 * The procedures this process is running: the router enters and leaves
 * them, a shutdown waits until none runs (`drained`), and `/metrics` shows
 * them by path (`gauge`).
 */
export function createProcedureTracker(): HandlerTracker & {
  drained(): Promise<void>;
  gauge: GaugeCollector;
} {
  let running = 0;
  const byPath = new Map<string, number>();
  let waiters: Array<() => void> = [];
  return {
    enter(path) {
      running++;
      byPath.set(path, (byPath.get(path) ?? 0) + 1);
    },
    leave(path) {
      running--;
      byPath.set(path, (byPath.get(path) ?? 1) - 1);
      if (running > 0) return;
      for (const wake of waiters) wake();
      waiters = [];
    },
    drained() {
      if (running === 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    // Paths are the router's own (unknown paths never reach a procedure), so the label stays bounded.
    gauge: {
      name: 'trpc_procedures_in_flight',
      help: 'Procedure calls of this process running now, by path: a transfer counts from its input check to its answer.',
      collect: () => [...byPath].map(([path, value]) => ({ labels: { path }, value })),
    },
  };
}
