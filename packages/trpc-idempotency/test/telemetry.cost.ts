/**
 * What OpenTelemetry costs an idempotent call (README.md#opentelemetry), in
 * CPU time per call (`process.cpuUsage()`), which a busy shared machine
 * inflates far less than wall time: the check a call pays when
 * `@opentelemetry/api` is installed and no provider is registered, against
 * a function that does nothing; and a replay through a tRPC caller on a
 * SQLite store with no provider, a tracer provider (spans batched to an
 * in-memory exporter), a meter provider (aggregated in memory), and both.
 * Variants run in interleaved rounds; the median round is printed.
 *
 *   node --conditions=@trpc-idempotency/source --import tsx test/telemetry.cost.ts
 *
 * Not part of `pnpm test` (no timing thresholds in tests).
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { initTRPC } from '@trpc/server';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { z } from 'zod';
import { type IdempotencyTelemetryOptions, idempotentProcedure } from '../src';
import { createTelemetry } from '../src/server/telemetry';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from '../src/sqlite';

const ROUNDS = 30;

/** CPU µs per call of `fn`, over `calls` calls. */
async function cpuMicros(calls: number, fn: () => unknown) {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++) await fn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / calls;
}

/** The median round of each variant, variants interleaved round by round. */
async function medians(calls: number, variants: Record<string, () => unknown>) {
  const rounds: Record<string, number[]> = {};
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, fn] of Object.entries(variants)) {
      const micros = await cpuMicros(calls, fn);
      rounds[name] = [...(rounds[name] ?? []), micros];
    }
  }
  return Object.fromEntries(
    Object.entries(rounds).map(([name, values]) => {
      values.sort((a, b) => a - b);
      return [name, values[values.length >> 1]!];
    }),
  );
}

const telemetry = createTelemetry();
await telemetry.ready();
const call = { path: 'pay', scope: 'u', key: 'k'.repeat(16) };
let sink: unknown;
const check = await medians(200_000, {
  nothing: () => {
    sink = ((_: typeof call) => undefined)(call);
  },
  check: () => {
    sink = telemetry.ready() ?? telemetry.startCall(call);
  },
});

const db = drizzle(new Database(':memory:'));
migrateSqliteIdempotencyStore(db);
const store = sqliteIdempotencyStore({ db });
const t = initTRPC.context<{ user: string }>().create();
const spans = new InMemorySpanExporter();
// A batch processor, as production exports spans (the simple one exports each span at its end).
const tracerProvider = new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(spans)] });
const meterProvider = new MeterProvider();
const payOf = (options: IdempotencyTelemetryOptions | undefined) => {
  const idempotent = idempotentProcedure({
    procedure: t.procedure,
    store,
    scope: ({ ctx }) => ctx.user,
    telemetry: options,
  });
  const router = t.router({
    pay: idempotent.input(z.object({ amount: z.number() })).mutation(({ input }) => input.amount),
  });
  const pay = t.createCallerFactory(router)({ user: 'u' }).pay;
  const input = { amount: 1, idempotencyKey: 'bench-replay-key-0001' };
  return () => pay(input);
};
const replays = {
  'no provider': payOf(undefined),
  'tracer provider': payOf({ tracerProvider }),
  'meter provider': payOf({ meterProvider }),
  'tracer and meter providers': payOf({ tracerProvider, meterProvider }),
};
await replays['no provider']();
const replay = await medians(500, {
  ...replays,
  'drop the exported spans': () => spans.reset(),
});

console.log(
  `CPU µs per call, median of ${ROUNDS} interleaved rounds (load average ${(await import('node:os'))
    .loadavg()[0]
    ?.toFixed(1)})`,
);
console.log(
  `the check, no provider registered: ${(check['check']! - check['nothing']!).toFixed(3)} µs`,
);
console.log(
  `  (a function doing nothing: ${check['nothing']!.toFixed(3)} µs; with the check: ${check['check']!.toFixed(3)} µs)`,
);
for (const name of Object.keys(replays)) {
  const micros = replay[name]!;
  const extra = micros - replay['no provider']!;
  console.log(
    `replay, ${name}: ${micros.toFixed(1)} µs${name === 'no provider' ? '' : ` (+${extra.toFixed(1)} µs)`}`,
  );
}
await tracerProvider.shutdown();
await meterProvider.shutdown();
if (sink === Symbol.for('never')) console.log(sink);
