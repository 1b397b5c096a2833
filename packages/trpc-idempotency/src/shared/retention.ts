/**
 * What the page knows of the server's retention (SPEC 7.10), shared by the
 * link, which learns the horizon from responses, and the pending operations,
 * which persist it and never resend an operation older than it. One board per
 * page (on `globalThis` under a `Symbol.for` key, so two copies of this
 * package share it): a page talks to one idempotency server. Imports nothing.
 * @see README.md#retention-on-the-client
 */

/**
 * The horizon assumed while the server has never told one: 24 hours, the
 * default TTL. Every server, with tombstones or without (an older version),
 * replays a key for at least its TTL, so within it a resend never executes
 * twice; past it, an older server might. Unknown beats a duplicate.
 */
export const FALLBACK_HORIZON_MS = 24 * 60 * 60 * 1000;

interface RetentionBoard {
  horizonMs: number | undefined;
  listeners: Set<(horizonMs: number) => void>;
}

const BOARD = Symbol.for('trpc-idempotency.retention');

function board(): RetentionBoard {
  const global = globalThis as { [BOARD]?: RetentionBoard };
  global[BOARD] ??= { horizonMs: undefined, listeners: new Set() };
  return global[BOARD];
}

/** Notes the horizon a response told (`Idempotency-Horizon-Ms`); listeners hear of a change. */
export function learnServerHorizon(horizonMs: number) {
  const retention = board();
  if (retention.horizonMs === horizonMs) return;
  retention.horizonMs = horizonMs;
  for (const listener of retention.listeners) listener(horizonMs);
}

/** The horizon learned on this page, if any. */
export function learnedServerHorizon(): number | undefined {
  return board().horizonMs;
}

/** Calls `listener` with each newly learned horizon; returns the unsubscribe. */
export function onServerHorizon(listener: (horizonMs: number) => void): () => void {
  const { listeners } = board();
  listeners.add(listener);
  return () => listeners.delete(listener);
}
