export { serveMetrics } from './endpoint';
export { databaseGauges } from './gauges';
export {
  createMetrics,
  DURATION_BUCKETS,
  escapeLabel,
  type GaugeCollector,
  METRICS_CONTENT_TYPE,
  type Metrics,
  type MetricsEvent,
} from './metrics';
export { createRouteLabeler } from './routeLabel';
