import type * as IdbKeyval from 'idb-keyval';

let loading: Promise<typeof IdbKeyval> | undefined;

/**
 * idb-keyval, loaded at its first use: an optional peer, needed only where
 * pending operations are kept, so this entry imports without it (an app that
 * never persists anything need not install it). Without it, the error names
 * the package; the next use tries again.
 */
export function loadIdbKeyval(): Promise<typeof IdbKeyval> {
  loading ??= import('idb-keyval').catch((cause: unknown) => {
    loading = undefined;
    throw new Error(
      'pending operations are kept in IndexedDB through idb-keyval, an optional peer dependency of trpc-idempotency, ' +
        `which could not be loaded (${cause instanceof Error ? cause.message : String(cause)}): install it (npm install idb-keyval)`,
      { cause },
    );
  });
  return loading;
}
