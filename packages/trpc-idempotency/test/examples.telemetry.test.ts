/**
 * The README's OpenTelemetry set-up (examples/telemetry/), as an app runs it:
 * the providers registered globally before the Quickstart's router is
 * loaded, nothing else. Spans are read from the example's in-memory
 * exporter; metrics over HTTP from the example's Prometheus exporter.
 * A file of its own: the providers are the process's globals.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { exampleFolder, loadExample } from './helpers/examples';
import { newKey } from './helpers/sqliteApp';

/** A port nothing listens on now (the exporter takes a port number, not 0). */
async function freePort() {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const folder = exampleFolder();
let metricsPort: number;
// biome-ignore lint/suspicious/noExplicitAny: the examples' own types are checked by examples.test.ts
let tracing: any, metricsExample: any, router: any;

beforeAll(async () => {
  metricsPort = await freePort();
  vi.stubEnv('METRICS_PORT', String(metricsPort));
  vi.stubEnv('DATABASE_FILE', join(folder.dir, 'app.db'));
  tracing = await loadExample('telemetry/tracing.ts');
  metricsExample = await loadExample('telemetry/metrics.ts');
  router = await loadExample('quickstart/router.ts', { instance: 'telemetry' });
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await metricsExample?.prometheus.shutdown();
  await tracing?.tracerProvider.shutdown();
  router?.db.$client.close();
  trace.disable();
  metrics.disable();
  context.disable();
  propagation.disable();
  folder[Symbol.dispose]();
});

it('traces the Quickstart’s calls with no code beyond registering the provider: a replay links to its execution', async () => {
  const alice = router.appRouter.createCaller({ userId: 'alice' });
  const idempotencyKey = newKey();
  const request = trace.getTracer('http');
  const paid = await request.startActiveSpan('POST /trpc/pay', async (span) => {
    try {
      return await alice.pay({ invoiceId: 'inv_1', amount: 500, idempotencyKey });
    } finally {
      span.end();
    }
  });
  expect(await alice.pay({ invoiceId: 'inv_1', amount: 500, idempotencyKey })).toEqual(paid);

  const finished: ReadableSpan[] = tracing.spans.getFinishedSpans();
  const [executed, replayed] = finished.filter((span) => span.name === 'idempotency pay');
  const http = finished.find((span) => span.name === 'POST /trpc/pay')!;
  expect(executed!.parentSpanContext?.spanId).toBe(http.spanContext().spanId);
  expect(executed!.attributes).toMatchObject({
    'idempotency.outcome': 'executed',
    'idempotency.attempt': 1,
  });
  expect(replayed!.attributes).toMatchObject({ 'idempotency.outcome': 'replayed' });
  expect(replayed!.attributes['idempotency.key_hash']).toBe(
    executed!.attributes['idempotency.key_hash'],
  );
  expect(replayed!.links[0]?.context).toMatchObject({
    traceId: executed!.spanContext().traceId,
    spanId: executed!.spanContext().spanId,
  });
});

it('serves the calls’ metrics at the exporter’s /metrics', async () => {
  const exposition = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  expect(exposition).toMatch(
    /^idempotency_calls_total\{idempotency_outcome="executed",idempotency_path="pay",[^}]*\} 1$/m,
  );
  expect(exposition).toMatch(
    /^idempotency_calls_total\{idempotency_outcome="replayed",idempotency_path="pay",[^}]*\} 1$/m,
  );
  expect(exposition).toMatch(/^idempotency_call_duration_count\{[^}]*\} 1$/m);
});
