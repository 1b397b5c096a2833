/** Options of {@link callBounds}. */
export interface CallBoundsOptions {
  /** The most attempts (or rounds) a call may make. */
  maxAttempts: number;
  /** The most time a call may take, in ms. */
  deadlineMs: number;
  /**
   * For a server the test keeps killing: when it last became ready (a
   * `performance.now()` time, `crashableLedger`'s `upSince`). Both bounds then
   * count from the later of the call's start and that moment.
   */
  serverUpSince?: (() => number) | undefined;
}

/**
 * The bounds of a retry loop that must reach a final answer: attempts and
 * time, counted from the call's start, or from the server's last readiness
 * when that is later. A test that SIGKILLs the server every few hundred ms
 * of uptime keeps it away most of the time (a restart takes seconds on a busy
 * machine); a call that runs through many kills would otherwise spend its
 * bounds on downtime the test itself causes. The server is never excused:
 * once it stays up, each call must finish within the bounds.
 */
export function callBounds(opts: CallBoundsOptions) {
  const startedAt = performance.now();
  let from = startedAt;
  let spent = 0;
  return {
    /** Counts one more attempt; false when the bounds are spent (a newer readiness renews them). */
    next(): boolean {
      const upSince = opts.serverUpSince?.() ?? startedAt;
      if (upSince > from) {
        from = upSince;
        spent = 0;
      }
      if (spent >= opts.maxAttempts || performance.now() - from >= opts.deadlineMs) return false;
      spent++;
      return true;
    },
    /** What was spent, for the error of a call that got no final answer. */
    describe(what = 'attempts'): string {
      const since = from === startedAt ? 'since the call started' : 'since the server last started';
      const all = Math.round(performance.now() - startedAt);
      return `${spent} ${what} in ${Math.round(performance.now() - from)} ms ${since} (${all} ms in all)`;
    },
  };
}
