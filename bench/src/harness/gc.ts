import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * A full garbage collection between measurements, so one contender's garbage
 * is not collected on another's clock. `--expose-gc` is switched on at run
 * time, which keeps the `pnpm bench` command line plain.
 */
export const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('could not expose the garbage collector');
  return gc as () => void;
})();
