import { newKey, waitForInFlight } from '@ledger/testkit';
import { useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import { openLedgerApp } from '../src/app';
import { createMetrics } from '../src/metrics';
import { holdWriteLock } from './helpers/databaseLocks';
import { openAccounts } from './helpers/ledgerCalls';

/** The samples of an exposition: `name{labels}` → value. */
function samples(exposition: string) {
  const values = new Map<string, number>();
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    values.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return values;
}

/** `idempotency_events_total` of `path`, for each of `outcomes` in order (undefined: no sample). */
function eventCounts(values: Map<string, number>, path: string, outcomes: string[]) {
  return outcomes.map((outcome) =>
    values.get(
      `idempotency_events_total{idempotency_outcome="${outcome}",idempotency_path="${path}"}`,
    ),
  );
}

/** The upper bounds of the duration buckets, in seconds: 1 ms to 10 s (the library's advice). */
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

describe('createMetrics', () => {
  it('escapes label values: backslash, double quote, line feed', async () => {
    const metrics = createMetrics();
    metrics.observeRequest({ method: 'GET', route: 'we"ird\\\npath', status: 200 });
    expect(await metrics.render()).toContain(
      'http_requests_total{method="GET",route="we\\"ird\\\\\\npath",status="200"} 1\n',
    );
  });

  it('adds gauges read at scrape time', async () => {
    let waiting = 0;
    const metrics = createMetrics({
      gauges: [{ name: 'g', help: 'a gauge', collect: () => [{ labels: {}, value: waiting }] }],
    });
    waiting = 3;
    expect(await metrics.render()).toContain('# HELP g a gauge\n# TYPE g gauge\ng 3\n');
    waiting = 4;
    expect(await metrics.render()).toContain('\ng 4\n');
  });
});

const databases = useFreshDatabases();

describe.each(['sqlite', 'postgres'] as const)('GET /metrics on %s', (dialect) => {
  it('counts what the server did, beside /trpc, which answers as before', async () => {
    const app = await openLedgerApp({ databaseUrl: await databases.create(dialect) });
    try {
      const { url } = await app.listen({ port: 0, host: '127.0.0.1' });
      const origin = new URL(url).origin;
      const post = (path: string, body: unknown) =>
        fetch(`${url}/${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
          body: JSON.stringify(body),
        });
      const open = { idempotencyKey: newKey(), owner: 'A', initialBalance: 5 };
      expect((await post('accounts.open', open)).status).toBe(200);
      expect((await post('accounts.open', open)).status).toBe(200);
      expect((await post('accounts.open', { ...open, initialBalance: 6 })).status).toBe(422);
      const batch = { idempotencyKey: newKey(), owner: 'B', initialBalance: 1 };
      expect(
        (await post('accounts.open,accounts.open?batch=1', { 0: batch, 1: batch })).status,
      ).toBe(200);
      expect((await fetch(`${url}/health`)).status).toBe(200);
      // Outside /trpc and /metrics, the same 404 as ever.
      const missing = await fetch(`${origin}/nope`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({
        error: { message: 'not found: /nope; the API is at /trpc' },
      });
      expect((await fetch(`${url}/no.such.procedure`)).status).toBe(404);
      expect((await fetch(`${origin}/metrics`, { method: 'POST' })).status).toBe(405);
      const head = await fetch(`${origin}/metrics`, { method: 'HEAD' });
      expect(head.status).toBe(200);

      const scraped = await fetch(`${origin}/metrics`);
      expect(scraped.status).toBe(200);
      expect(scraped.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await scraped.text();
      expect(text).toContain('# TYPE idempotency_events_total counter\n');
      expect(text).toContain('# TYPE idempotency_request_duration_seconds histogram\n');
      expect(text).toContain('# TYPE http_requests_total counter\n');
      const values = samples(text);
      expect(
        eventCounts(values, 'accounts.open', ['executed', 'replayed', 'mismatch', 'joined']),
      ).toEqual([2, 1, 1, 1]);
      const exposition = [...values.keys()];
      expect(exposition.some((name) => name.startsWith('target_info'))).toBe(false);
      // The duration histogram: every bucket, cumulative, up to +Inf, which counts them all.
      const labels = 'idempotency_outcome="executed",idempotency_path="accounts.open"';
      const duration = (suffix: string) =>
        values.get(`idempotency_request_duration_seconds_${suffix}`);
      expect(duration(`count{${labels}}`)).toBe(2);
      const buckets = [...DURATION_BUCKETS.map(String), '+Inf'].map((le) =>
        duration(`bucket{${labels},le="${le}"}`),
      );
      expect(buckets.every((count) => count !== undefined)).toBe(true);
      expect(buckets).toEqual([...buckets].sort((x, y) => x! - y!));
      expect(buckets.at(-1)).toBe(2);
      expect(duration(`sum{${labels}}`)).toBeGreaterThan(0);
      expect(duration(`sum{${labels}}`)).toBeLessThan(20);
      const requests = (method: string, route: string, status: number) =>
        values.get(`http_requests_total{method="${method}",route="${route}",status="${status}"}`);
      expect(requests('POST', 'accounts.open', 200)).toBe(2);
      expect(requests('POST', 'accounts.open', 422)).toBe(1);
      expect(requests('POST', 'batch', 200)).toBe(1);
      expect(requests('GET', 'health', 200)).toBe(1);
      // Paths a client makes up share one label value.
      expect(requests('GET', 'other', 404)).toBe(2);
      expect(requests('POST', '/metrics', 405)).toBe(1);
      expect(requests('HEAD', '/metrics', 200)).toBe(1);
      if (dialect === 'postgres') {
        expect(values.get('db_pool_connections{state="in_use"}')).toBe(0);
        expect(values.get('db_pool_connections{state="idle"}')).toBeGreaterThan(0);
        expect(values.get('db_pool_waiting_requests')).toBe(0);
      } else {
        expect([...values.keys()].some((name) => name.startsWith('db_pool'))).toBe(false);
      }
    } finally {
      await app.close();
    }
  });

  it('counts conflicts, and a commit that cannot take its lock', async () => {
    const databaseUrl = await databases.create(dialect);
    const app = await openLedgerApp({
      databaseUrl,
      // A duplicate in this process is refused at once rather than joined.
      inFlight: { policy: 'reject' },
      transferDelayMs: 100,
      busyTimeoutMs: 50,
      pgLockTimeoutMs: 50,
    });
    try {
      const alice = app.router.createCaller({ userId: 'alice' });
      const [a, b] = await openAccounts(alice, 9, 0);
      const input = { idempotencyKey: newKey(), fromAccountId: a.id, toAccountId: b.id, amount: 1 };
      const outcomes = await Promise.allSettled([
        alice.transfers.create(input),
        new Promise((resolve) => setTimeout(resolve, 20)).then(() => alice.transfers.create(input)),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected']);

      // Locked out of its commit: a transient failure, nothing stored.
      const failing = alice.transfers.create({ ...input, idempotencyKey: newKey() });
      await waitForInFlight(app, 1);
      const lock = await holdWriteLock({ databaseUrl, accountId: a.id });
      try {
        await expect(failing).rejects.toThrow();
      } finally {
        await lock.release();
      }
      const values = samples(await app.metrics.render());
      // SQLite's lock times out at BEGIN IMMEDIATE, before the transfer's own writes: the
      // store's failure (500, IDEMPOTENCY_STORE_UNAVAILABLE). Postgres times out on the
      // account's row inside the transfer's writes: the handler's transient failure.
      expect(
        eventCounts(values, 'transfers.create', ['executed', 'conflict', 'released', 'failed']),
      ).toEqual(dialect === 'sqlite' ? [1, 1, undefined, 1] : [1, 1, 1, undefined]);
    } finally {
      await app.close();
    }
  });
});
