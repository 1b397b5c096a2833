// tracing.ts: OpenTelemetry as any Node.js app registers it, before the app's own modules
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

// Your exporter goes here (OTLP to a collector, …); the in-memory one keeps the spans for a test.
export const spans = new InMemorySpanExporter();
export const tracerProvider = new NodeTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(spans)],
});
tracerProvider.register(); // the global provider, with an AsyncLocalStorage context manager
