import { newKey, waitForInFlight } from '@ledger/testkit';
import { useFreshDatabases } from '@ledger/testkit/databases';
import type { IdempotencyEvent } from 'trpc-idempotency';
import { describe, expect, it } from 'vitest';
import { openLedgerApp } from '../src/app';
import { createMetrics, DURATION_BUCKETS, escapeLabel } from '../src/metrics';
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

/** `idempotency_events_total` of `path`, for each of `events` in order (undefined: no sample). */
function eventCounts(values: Map<string, number>, path: string, events: string[]) {
  return events.map((event) =>
    values.get(`idempotency_events_total{event="${event}",path="${path}"}`),
  );
}

const base = { scope: 'alice', durationMs: 3 };

describe('createMetrics', () => {
  it('counts each idempotency event once, under its event; a take-over is taken_over, not executed', () => {
    const metrics = createMetrics();
    const events: IdempotencyEvent[] = [
      {
        ...base,
        path: 'p',
        type: 'executed',
        outcome: 'result',
        attempt: 1,
        takenOver: false,
        waitedMs: 0,
        stepsRun: [],
        stepsSkipped: [],
      },
      {
        ...base,
        path: 'p',
        type: 'executed',
        outcome: 'result',
        attempt: 2,
        takenOver: true,
        waitedMs: 0,
        stepsRun: ['charge'],
        stepsSkipped: ['reserve'],
      },
      { ...base, path: 'p', type: 'replayed', outcome: 'error', waitedMs: 0 },
      { ...base, path: 'p', type: 'joined', outcome: 'result' },
      { ...base, path: 'p', type: 'conflict', retryAfterMs: 50 },
      { ...base, path: 'p', type: 'mismatch' },
      { ...base, path: 'p', type: 'released', attempt: 1 },
      { ...base, path: 'p', type: 'fenced', attempt: 1 },
      { ...base, path: 'p', type: 'failed', reason: 'IDEMPOTENCY_STORE_UNAVAILABLE' },
      { ...base, path: 'p', type: 'replayed', outcome: 'result', waitedMs: 0 },
    ];
    for (const event of events) metrics.observeEvent(event);
    const values = samples(metrics.render());
    const count = (event: string) =>
      values.get(`idempotency_events_total{event="${event}",path="p"}`);
    expect(
      [
        'executed',
        'taken_over',
        'replayed',
        'joined',
        'conflict',
        'mismatch',
        'released',
        'fenced',
        'failed',
      ].map(count),
    ).toEqual([1, 1, 2, 1, 1, 1, 1, 1, 1]);
    expect(values.get('idempotency_steps_total{path="p",step="charge",outcome="ran"}')).toBe(1);
    expect(values.get('idempotency_steps_total{path="p",step="reserve",outcome="skipped"}')).toBe(
      1,
    );
  });

  it('writes the Prometheus text format: HELP and TYPE, cumulative buckets, +Inf, sum and count in seconds', () => {
    const metrics = createMetrics();
    for (const durationMs of [0.5, 7, 7, 3000, 60_000]) {
      metrics.observeEvent({
        scope: 's',
        path: 'p',
        type: 'joined',
        outcome: 'result',
        durationMs,
      });
    }
    const exposition = metrics.render();
    expect(exposition).toContain('# TYPE idempotency_events_total counter\n');
    expect(exposition).toContain('# TYPE idempotency_request_duration_seconds histogram\n');
    expect(exposition).toContain('# TYPE http_requests_total counter\n');
    expect(exposition.endsWith('\n')).toBe(true);
    const values = samples(exposition);
    const bucket = (le: string) =>
      values.get(`idempotency_request_duration_seconds_bucket{event="joined",path="p",le="${le}"}`);
    expect(bucket('0.001')).toBe(1);
    expect(bucket('0.01')).toBe(3);
    expect(bucket('5')).toBe(4);
    expect(bucket('10')).toBe(4);
    expect(bucket('+Inf')).toBe(5);
    // Every bucket is there, in order, and never decreases.
    const counts = DURATION_BUCKETS.map((le) => bucket(String(le))!);
    expect(counts).toEqual([...counts].sort((x, y) => x - y));
    const labels = '{event="joined",path="p"}';
    expect(values.get(`idempotency_request_duration_seconds_count${labels}`)).toBe(5);
    expect(values.get(`idempotency_request_duration_seconds_sum${labels}`)).toBeCloseTo(63.0145, 6);
  });

  it('escapes label values: backslash, double quote, line feed', () => {
    expect(escapeLabel('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const metrics = createMetrics();
    metrics.observeRequest({ method: 'GET', route: 'we"ird\\\npath', status: 200 });
    expect(metrics.render()).toContain(
      'http_requests_total{method="GET",route="we\\"ird\\\\\\npath",status="200"} 1\n',
    );
  });

  it('adds gauges read at scrape time', () => {
    let waiting = 0;
    const metrics = createMetrics({
      gauges: [{ name: 'g', help: 'a gauge', collect: () => [{ labels: {}, value: waiting }] }],
    });
    waiting = 3;
    expect(metrics.render()).toContain('# TYPE g gauge\ng 3\n');
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
      const values = samples(await scraped.text());
      expect(
        eventCounts(values, 'accounts.open', ['executed', 'replayed', 'mismatch', 'joined']),
      ).toEqual([2, 1, 1, 1]);
      expect(
        values.get(
          'idempotency_request_duration_seconds_count{event="executed",path="accounts.open"}',
        ),
      ).toBe(2);
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
      const values = samples(app.metrics.render());
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
