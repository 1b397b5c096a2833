import { type QueryClient, skipToken, useQuery } from '@tanstack/react-query';
import { getIdempotencyKey } from 'trpc-idempotency/react-query';

/** What the network saw of one operation: its HTTP attempts, and whether the server replayed it. */
export interface WireRecord {
  attempts: number;
  replayed: boolean;
}

const wireKey = (idempotencyKey: string) => ['wire', idempotencyKey] as const;

/**
 * `Idempotent-Replayed: true`: the server answered from its stored outcome.
 * It marks a response as a whole, so it is about one operation only because
 * mutations go one per request (`createLedgerClient`).
 */
const REPLAYED_HEADER = 'idempotent-replayed';

/**
 * The app's `fetch`: sends API calls through `/flaky/trpc` while the "flaky
 * network" switch is on, and notes, per idempotency key, each attempt that
 * left and whether the server answered it from its record. Kept in the
 * QueryClient beside everything else the page shows.
 */
export function createWire(queryClient: QueryClient) {
  let flaky = false;
  const note = (key: string, change: (record: WireRecord) => WireRecord) =>
    queryClient.setQueryData<WireRecord>(wireKey(key), (record) =>
      change(record ?? { attempts: 0, replayed: false }),
    );

  async function wireFetch(input: RequestInfo | URL, init?: RequestInit) {
    const url = new URL(String(input), window.location.origin);
    if (flaky && url.pathname.startsWith('/trpc/')) url.pathname = `/flaky${url.pathname}`;
    let key: string | undefined;
    if (typeof init?.body === 'string') {
      try {
        key = getIdempotencyKey(JSON.parse(init.body));
      } catch {
        key = undefined;
      }
    }
    if (key) note(key, (record) => ({ ...record, attempts: record.attempts + 1 }));
    const response = await fetch(url, init);
    if (key && response.headers.get(REPLAYED_HEADER) === 'true') {
      note(key, (record) => ({ ...record, replayed: true }));
    }
    return response;
  }

  return {
    fetch: wireFetch,
    setFlaky(on: boolean) {
      flaky = on;
    },
  };
}

/** The wire record of an operation, kept current. */
export function useWireRecord(idempotencyKey: string | undefined): WireRecord {
  const { data } = useQuery<WireRecord>({
    queryKey: wireKey(idempotencyKey ?? ''),
    queryFn: skipToken,
    staleTime: Number.POSITIVE_INFINITY,
  });
  return data ?? { attempts: 0, replayed: false };
}
