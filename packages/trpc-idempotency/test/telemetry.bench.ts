/**
 * What OpenTelemetry costs an idempotent call (README.md#opentelemetry):
 * the check a call pays when `@opentelemetry/api` is installed but no
 * provider is registered, against a function that does nothing; and a
 * replay through a tRPC caller with no provider, and with a tracer and a
 * meter provider recording (in-memory span exporter, metrics aggregated in
 * memory). Run with
 * `pnpm --filter trpc-idempotency exec vitest bench --run test/telemetry.bench.ts`;
 * not part of `pnpm test` (no timing thresholds in tests).
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { bench, describe } from 'vitest';
import { z } from 'zod';
import { createTelemetry } from '../src/server/telemetry';
import { sqliteTestDatabase } from './helpers/sqliteApp';
import { callerOf, userIdempotent } from './helpers/trpc';

const telemetry = createTelemetry();
await telemetry.ready();
const call = { path: 'pay', scope: 'u', key: 'k'.repeat(16) };
// Results land here, so the calls cannot be optimized away.
const sink: unknown[] = [];

describe('the check a call pays with the API installed and no provider registered', () => {
  bench('nothing (a function that returns undefined)', () => {
    sink[0] = ((_: typeof call) => undefined)(call);
  });
  bench('telemetry.ready() + telemetry.startCall(): the check', () => {
    sink[0] = telemetry.ready() ?? telemetry.startCall(call);
  });
});

const database = sqliteTestDatabase();
const spans = new InMemorySpanExporter();
const tracerProvider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const meterProvider = new MeterProvider();
const payOf = (options: Parameters<typeof userIdempotent>[0]) =>
  callerOf({
    pay: userIdempotent(options)
      .input(z.object({ amount: z.number() }))
      .mutation(({ input }) => input.amount),
  }).pay;
const quiet = payOf({ store: database.store });
const traced = payOf({ store: database.store, telemetry: { tracerProvider, meterProvider } });
const input = { amount: 1, idempotencyKey: 'bench-replay-key-0001' };
await quiet(input);
let calls = 0;

describe('a replay through a tRPC caller (SQLite store)', () => {
  bench('no provider registered', async () => {
    sink[0] = await quiet(input);
  });
  bench('a tracer and a meter provider recording', async () => {
    sink[0] = await traced(input);
    // The in-memory exporter keeps every span: drop them now and then.
    if (++calls % 1000 === 0) spans.reset();
  });
});
