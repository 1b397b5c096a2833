// metrics.ts: a global meter provider whose reader is OpenTelemetry's Prometheus exporter
import { metrics } from '@opentelemetry/api';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

// Serves http://localhost:9464/metrics: idempotency_calls_total, idempotency_call_duration, …
export const prometheus = new PrometheusExporter({
  port: Number(process.env.METRICS_PORT ?? 9464),
});
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [prometheus] }));
