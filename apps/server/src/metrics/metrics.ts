import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider, type ViewOptions } from '@opentelemetry/sdk-metrics';
import type { IdempotencyTelemetryOptions } from 'trpc-idempotency';

/** A gauge read when scraped, e.g. the connections of a database pool. */
export interface GaugeCollector {
  name: string;
  help: string;
  /** The samples now: label values and the value. */
  collect(): Array<{ labels: Record<string, string>; value: number }>;
}

/** The content type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The library's instruments (trpc-idempotency's README, "OpenTelemetry")
 * under the names this server's `/metrics` has always had; their attributes
 * keep OpenTelemetry's names (`idempotency.outcome` is the label
 * `idempotency_outcome`), as README.md#metrics says.
 */
const IDEMPOTENCY_SERIES: ViewOptions[] = [
  {
    instrumentName: 'idempotency.calls',
    // The exporter adds `_total` to a counter's name.
    name: 'idempotency_events',
    description:
      'Idempotent requests by outcome (idempotency_outcome): executed, taken_over (executed after taking over an expired lease, resuming after its finished steps), replayed, joined (a duplicate got the answer of an execution running in this process), conflict (409 in progress), mismatch (422 key reused), expired (404: the same operation retried after the TTL of its response, its tombstone kept; not executed again), released (transient failure, key freed), fenced (lost lease, write refused), failed (500: the idempotency store failed or the outcome could not be stored).',
  },
  {
    instrumentName: 'idempotency.call.duration',
    name: 'idempotency_request_duration_seconds',
    description:
      'Idempotent requests from arrival to answer, including any wait for a duplicate, by outcome (idempotency_outcome).',
  },
  {
    instrumentName: 'idempotency.steps',
    name: 'idempotency_steps',
    description:
      'Steps of lease-mode executions that stored an outcome, by procedure path, step name and whether the step ran or was answered from an interrupted execution (skipped).',
  },
];

/**
 * The server's metrics, counted in this process (each server process
 * exposes its own; Prometheus adds them up), through OpenTelemetry's SDK and
 * its Prometheus exporter:
 * - the idempotency layer's own instruments, recorded by the library into
 *   `meterProvider` (the builders' `telemetry` option): calls by outcome and
 *   path, their duration, lease-mode steps;
 * - `http_requests_total{method,route,status}`: every HTTP request answered;
 * - whatever `gauges` collect at scrape time.
 *
 * A provider of its own rather than the global one, so two servers in one
 * process (the tests) count apart.
 */
export function createMetrics(opts: { gauges?: GaugeCollector[] } = {}): Metrics {
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter], views: IDEMPOTENCY_SERIES });
  const meter = meterProvider.getMeter('@ledger/server');
  // No target_info or otel_scope_* labels: the series stay what they were.
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);

  const requests = meter.createCounter('http_requests', {
    description:
      'HTTP requests answered, by method, route (a procedure, "batch", "/metrics", or "other") and status.',
  });
  for (const gauge of opts.gauges ?? []) {
    meter.createObservableGauge(gauge.name, { description: gauge.help }).addCallback((result) => {
      for (const sample of gauge.collect()) result.observe(sample.value, sample.labels);
    });
  }

  return {
    meterProvider,
    observeRequest(request) {
      requests.add(1, {
        method: request.method,
        route: request.route,
        status: String(request.status),
      });
    },
    async render() {
      const { resourceMetrics } = await exporter.collect();
      return serializer.serialize(resourceMetrics);
    },
  };
}

/** The server's metrics, from {@link createMetrics}. */
export interface Metrics {
  /** Where the idempotent builders record (their `telemetry: { meterProvider }`). */
  meterProvider: NonNullable<IdempotencyTelemetryOptions['meterProvider']>;
  /** Counts one answered HTTP request. */
  observeRequest(request: { method: string; route: string; status: number }): void;
  /** The exposition, as `GET /metrics` answers it. */
  render(): Promise<string>;
}
