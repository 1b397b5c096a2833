/**
 * SPEC 12.1 and 12.2 with OpenTelemetry's own SDK: a real NodeTracerProvider
 * (with its AsyncLocalStorage context manager) registered globally, as an app
 * registers it, spans read back from the in-memory exporter; metrics read
 * back through the Prometheus exporter over HTTP.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, beforeEach, describe, expect, it as vitestIt } from 'vitest';
import { z } from 'zod';
import packageJson from '../package.json' with { type: 'json' };
import type { IdempotencyTelemetryOptions } from '../src';
import {
  createTelemetry,
  INSTRUMENTATION_NAME,
  INSTRUMENTATION_VERSION,
} from '../src/server/telemetry';
import {
  entries,
  gate,
  it,
  manualClock,
  newKey,
  type SqliteTestDatabase,
} from './helpers/sqliteApp';
import { callerOf, userIdempotent } from './helpers/trpc';

const spans = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const appTracer = trace.getTracer('app');

beforeAll(() => provider.register());
beforeEach(() => spans.reset());
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

/** The idempotency spans exported so far, oldest first. */
const idempotencySpans = () =>
  spans.getFinishedSpans().filter((span) => span.name.startsWith('idempotency '));

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** A transactional `pay` on `database` that writes an entry, fails as told, and traces its own work. */
function payApp(
  database: Pick<SqliteTestDatabase, 'store' | 'db'>,
  opts: { telemetry?: IdempotencyTelemetryOptions; clock?: () => number; ttlMs?: number } = {},
) {
  const idempotent = userIdempotent({ store: database.store, ...opts });
  return callerOf(
    {
      pay: idempotent
        .input(z.object({ amount: z.number().int() }))
        .mutation(async ({ input, ctx }) => {
          if (input.amount === 0) throw new Error('gateway down');
          if (input.amount < 0) throw new TRPCError({ code: 'BAD_REQUEST', message: 'negative' });
          // The handler's own spans are children of the idempotency span.
          await appTracer.startActiveSpan('load invoice', async (span) => span.end());
          return ctx.idempotency.commit((tx) =>
            tx.insert(entries).values({ label: 'pay', amount: input.amount }).returning().get(),
          );
        }),
    },
    'alice',
  );
}

/** Runs `fn` inside an active span of the app's, as an HTTP server instrumentation would. */
function inRequestSpan<T>(fn: () => Promise<T>) {
  return appTracer.startActiveSpan('POST /trpc/pay', async (span) => {
    try {
      return await fn();
    } finally {
      span.end();
    }
  });
}

describe('traces (SPEC 12.1)', () => {
  it('records one span per call, a child of the active span, with the outcome, attempt and a key hash, never the key or scope', async ({
    database,
  }) => {
    const caller = payApp(database);
    const idempotencyKey = newKey('secret');
    await inRequestSpan(() => caller.pay({ idempotencyKey, amount: 5 }));

    const [span] = idempotencySpans();
    const request = spans.getFinishedSpans().find((each) => each.name === 'POST /trpc/pay')!;
    expect(span!.name).toBe('idempotency pay');
    expect(parentOf(span!)).toBe(request.spanContext().spanId);
    expect(span!.spanContext().traceId).toBe(request.spanContext().traceId);
    expect(span!.attributes).toMatchObject({
      'idempotency.outcome': 'executed',
      'idempotency.attempt': 1,
      'idempotency.path': 'pay',
    });
    expect(span!.attributes['idempotency.key_hash']).toMatch(/^[0-9a-f]{32}$/);
    const written = JSON.stringify(span!.attributes);
    expect(written).not.toContain(idempotencyKey);
    expect(written).not.toContain('alice');

    const handlerSpan = spans.getFinishedSpans().find((each) => each.name === 'load invoice')!;
    expect(parentOf(handlerSpan)).toBe(span!.spanContext().spanId);
  });

  it('links a replay to the span of the execution that stored the outcome, also from another process a day later', async ({
    database,
  }) => {
    const idempotencyKey = newKey();
    await payApp(database).pay({ idempotencyKey, amount: 5 });
    const [executed] = idempotencySpans();

    // Another store on the file, another builder: only the record connects the two.
    const later = payApp(database.openSecond());
    spans.reset();
    await inRequestSpan(() => later.pay({ idempotencyKey, amount: 5 }));
    const [replayed] = idempotencySpans();
    expect(replayed!.attributes).toMatchObject({
      'idempotency.outcome': 'replayed',
      'idempotency.attempt': 1,
      'idempotency.key_hash': executed!.attributes['idempotency.key_hash'],
    });
    expect(replayed!.links.map((link) => link.context)).toEqual([
      expect.objectContaining({
        traceId: executed!.spanContext().traceId,
        spanId: executed!.spanContext().spanId,
      }),
    ]);
    // The replay is in the trace of its own request; the link points to the other trace.
    expect(replayed!.spanContext().traceId).not.toBe(executed!.spanContext().traceId);
  });

  it('links a call answered by a tombstone (its response past the TTL) to the execution’s span', async ({
    database,
  }) => {
    const clock = manualClock();
    const caller = payApp(database, { clock: clock.now, ttlMs: 60_000 });
    const idempotencyKey = newKey();
    await caller.pay({ idempotencyKey, amount: 5 });
    clock.advance(60_001);
    await expect(caller.pay({ idempotencyKey, amount: 5 })).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const [executed, expired] = idempotencySpans();
    expect(expired!.attributes['idempotency.outcome']).toBe('expired');
    expect(expired!.links[0]?.context.spanId).toBe(executed!.spanContext().spanId);
  });

  it('links a duplicate that joined the running execution to that execution’s span', async ({
    database,
  }) => {
    const caller = payApp(database);
    const idempotencyKey = newKey();
    await Promise.all([
      caller.pay({ idempotencyKey, amount: 5 }),
      caller.pay({ idempotencyKey, amount: 5 }),
    ]);
    const joined = idempotencySpans().find(
      (span) => span.attributes['idempotency.outcome'] === 'joined',
    )!;
    const executed = idempotencySpans().find(
      (span) => span.attributes['idempotency.outcome'] === 'executed',
    )!;
    expect(joined.links[0]?.context.spanId).toBe(executed.spanContext().spanId);
  });

  it('names mismatches and transient failures; a transient failure is an error span', async ({
    database,
  }) => {
    const caller = payApp(database);
    const idempotencyKey = newKey();
    await caller.pay({ idempotencyKey, amount: 5 });
    await expect(caller.pay({ idempotencyKey, amount: 6 })).rejects.toMatchObject({
      code: 'UNPROCESSABLE_CONTENT',
    });
    await expect(caller.pay({ idempotencyKey: newKey(), amount: 0 })).rejects.toThrow(
      'gateway down',
    );
    await expect(caller.pay({ idempotencyKey: newKey(), amount: -1 })).rejects.toMatchObject({
      code: 'BAD_REQUEST',
    });
    const outcomes = idempotencySpans().map((span) => [
      span.attributes['idempotency.outcome'],
      span.attributes['idempotency.stored_outcome'],
      span.status.code,
    ]);
    // 0: unset, 2: error
    expect(outcomes).toEqual([
      ['executed', 'result', 0],
      ['mismatch', undefined, 0],
      ['released', undefined, 2],
      ['executed', 'error', 0],
    ]);
  });

  it('records lease-mode steps as child spans: ran, or skipped after a take-over; a zombie is fenced', async ({
    database,
  }) => {
    const LEASE_MS = 10_000;
    const clock = manualClock();
    const hang = gate();
    const processOn = (store: SqliteTestDatabase['store'], waitFor?: Promise<void>) =>
      callerOf({
        charge: userIdempotent({
          store,
          mode: 'lease',
          leaseMs: LEASE_MS,
          clock: clock.now,
          inFlight: { timeoutMs: 0 },
        }).mutation(async ({ ctx }) => {
          const reservation = await ctx.idempotency.step('reserve', () => 'r-1');
          await waitFor;
          await ctx.idempotency.step('charge', () => 'c-1');
          return { reservation, attempt: ctx.idempotency.attempt };
        }),
      });
    const zombie = processOn(database.store, hang.opened);
    const rescuer = processOn(database.openSecond().store);
    const idempotencyKey = newKey();

    const zombieCall = zombie.charge({ idempotencyKey }).catch((error: Error) => error);
    await new Promise((resolve) => setTimeout(resolve, 20));
    clock.advance(LEASE_MS + 1);
    expect(await rescuer.charge({ idempotencyKey })).toEqual({ reservation: 'r-1', attempt: 2 });
    hang.open();
    expect(await zombieCall).toMatchObject({ code: 'CONFLICT' });

    const calls = idempotencySpans().filter((span) => !span.name.startsWith('idempotency.step'));
    const takenOver = calls.find(
      (span) => span.attributes['idempotency.outcome'] === 'taken_over',
    )!;
    expect(takenOver.attributes['idempotency.attempt']).toBe(2);
    const fenced = calls.find((span) => span.attributes['idempotency.outcome'] === 'fenced')!;
    expect(fenced.attributes['idempotency.attempt']).toBe(1);

    const stepsOf = (call: ReadableSpan) =>
      spans
        .getFinishedSpans()
        .filter((span) => parentOf(span) === call.spanContext().spanId)
        .map((span) => [span.name, span.attributes['idempotency.step.outcome']]);
    expect(stepsOf(takenOver)).toEqual([
      ['idempotency.step reserve', 'skipped'],
      ['idempotency.step charge', 'ran'],
    ]);
    expect(stepsOf(fenced)).toEqual([
      ['idempotency.step reserve', 'ran'],
      // The zombie's late step is refused: its lease was lost.
      ['idempotency.step charge', 'failed'],
    ]);
  });

  it('sends spans to the tracer provider the builder was given instead of the global one', async ({
    database,
  }) => {
    const own = new InMemorySpanExporter();
    const ownProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(own)] });
    await payApp(database, { telemetry: { tracerProvider: ownProvider } }).pay({
      idempotencyKey: newKey(),
      amount: 5,
    });
    expect(own.getFinishedSpans().map((span) => span.name)).toContain('idempotency pay');
    expect(idempotencySpans()).toEqual([]);
    await ownProvider.shutdown();
  });

  it('records nothing, and starts nothing per call, once no provider is registered', async ({
    database,
  }) => {
    const telemetry = createTelemetry();
    await telemetry.ready();
    trace.disable();
    try {
      expect(telemetry.startCall({ path: 'pay', scope: 's', key: 'k' })).toBeUndefined();
      await payApp(database).pay({ idempotencyKey: newKey(), amount: 5 });
      expect(idempotencySpans()).toEqual([]);
    } finally {
      provider.register();
    }
    // Registered again: the same builder's calls record again.
    expect(telemetry.startCall({ path: 'pay', scope: 's', key: 'k' })).toBeDefined();
  });
});

vitestIt('names the instrumentation scope after the package and its version', () => {
  expect([INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION]).toEqual([
    packageJson.name,
    packageJson.version,
  ]);
});

describe('metrics (SPEC 12.2), read through the Prometheus exporter over HTTP', () => {
  async function prometheus() {
    const exporter = new PrometheusExporter({ preventServerStart: true });
    const meterProvider = new MeterProvider({ readers: [exporter] });
    const server = createServer((req, res) => exporter.getMetricsRequestHandler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
    return {
      meterProvider,
      async scrape() {
        const response = await fetch(url);
        expect(response.status).toBe(200);
        return response.text();
      },
      async [Symbol.asyncDispose]() {
        await new Promise((resolve) => server.close(resolve));
        await meterProvider.shutdown();
      },
    };
  }

  it('counts calls by outcome and path, their duration in seconds, and lease-mode steps', async ({
    database,
  }) => {
    await using metered = await prometheus();
    const caller = payApp(database, { telemetry: { meterProvider: metered.meterProvider } });
    const idempotencyKey = newKey();
    await caller.pay({ idempotencyKey, amount: 5 });
    await caller.pay({ idempotencyKey, amount: 5 });
    await caller.pay({ idempotencyKey, amount: 5 });
    await expect(caller.pay({ idempotencyKey, amount: 6 })).rejects.toThrow();

    const leased = callerOf({
      charge: userIdempotent({
        store: database.store,
        mode: 'lease',
        telemetry: { meterProvider: metered.meterProvider },
      }).mutation(async ({ ctx }) => ctx.idempotency.step('charge', () => 1)),
    });
    await leased.charge({ idempotencyKey: newKey() });

    const exposition = await metered.scrape();
    const sample = (series: string) => {
      const line = exposition.split('\n').find((each) => each.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    const scope = `otel_scope_name="${INSTRUMENTATION_NAME}",otel_scope_version="${INSTRUMENTATION_VERSION}"`;
    const calls = (outcome: string, path = 'pay') =>
      sample(
        `idempotency_calls_total{idempotency_outcome="${outcome}",idempotency_path="${path}",${scope}}`,
      );
    expect([calls('executed'), calls('replayed'), calls('mismatch')]).toEqual([1, 2, 1]);
    expect(calls('executed', 'charge')).toBe(1);
    expect(exposition).toContain('# TYPE idempotency_call_duration histogram');
    expect(
      sample(
        `idempotency_call_duration_count{idempotency_outcome="replayed",idempotency_path="pay",${scope}}`,
      ),
    ).toBe(2);
    // The buckets are the advised ones: 1 ms to 10 s.
    expect(exposition).toContain(
      `idempotency_call_duration_bucket{idempotency_outcome="replayed",idempotency_path="pay",${scope},le="0.001"}`,
    );
    expect(exposition).toContain(
      `idempotency_call_duration_bucket{idempotency_outcome="replayed",idempotency_path="pay",${scope},le="10"}`,
    );
    expect(
      sample(
        `idempotency_steps_total{idempotency_path="charge",idempotency_step_name="charge",idempotency_step_outcome="ran",${scope}}`,
      ),
    ).toBe(1);
  });

  it('uses the global meter provider when the builder names none, even one registered after the builder was made', async ({
    database,
  }) => {
    const caller = payApp(database);
    await using metered = await prometheus();
    metrics.setGlobalMeterProvider(metered.meterProvider);
    try {
      await caller.pay({ idempotencyKey: newKey(), amount: 5 });
      expect(await metered.scrape()).toMatch(
        /^idempotency_calls_total\{idempotency_outcome="executed",idempotency_path="pay",[^}]*\} 1$/m,
      );
    } finally {
      metrics.disable();
    }
  });
});
