export { serveMetrics } from './endpoint';
export { databaseGauges } from './gauges';
export { createMetrics, type GaugeCollector, METRICS_CONTENT_TYPE, type Metrics } from './metrics';
export { createRouteLabeler } from './routeLabel';
