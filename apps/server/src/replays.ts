import { AsyncLocalStorage } from 'node:async_hooks';
import type { IdempotencyEvent } from 'trpc-idempotency';

/**
 * The `Idempotent-Replayed` response header (as Stripe sends it): the paths of
 * the calls in this response that were answered from a stored outcome (a
 * replay, or a duplicate that joined the running execution) instead of
 * executing. The body stays identical to the first answer; only this header
 * tells a client, e.g. the web app showing "replayed", what happened.
 */
export const REPLAYED_HEADER = 'idempotent-replayed';

const replayedPaths = new AsyncLocalStorage<string[]>();

/** Runs `handle` (one HTTP request) with its own list of replayed calls. */
export function trackReplays<T>(handle: () => T): T {
  return replayedPaths.run([], handle);
}

/** Notes a replay of the current request; give it every idempotency event. */
export function observeReplay(event: IdempotencyEvent) {
  if (event.type === 'replayed' || event.type === 'joined') {
    replayedPaths.getStore()?.push(event.path);
  }
}

/** The header for the current request's replays, if it had any. */
export function replayHeaders(): Record<string, string> {
  const paths = replayedPaths.getStore();
  return paths && paths.length > 0 ? { [REPLAYED_HEADER]: paths.join(',') } : {};
}
