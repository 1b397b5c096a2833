// Preloaded into a server process (NODE_OPTIONS=--import) by the suite: its
// wall clock runs RELIABILITY_CLOCK_SKEW_MS ahead, as after a clock jump.
// Restarting a crashed server "later" this way expires the dead owner's leases
// and a key's TTL without waiting for them (see serverClock.ts).
const skew = Number(process.env.RELIABILITY_CLOCK_SKEW_MS ?? '0');
if (!Number.isFinite(skew)) throw new Error('RELIABILITY_CLOCK_SKEW_MS must be a number');
if (skew !== 0) {
  const realNow = Date.now;
  Date.now = () => realNow() + skew;
}
