import type { IncomingMessage, ServerResponse } from 'node:http';
import { METRICS_CONTENT_TYPE, type Metrics } from './metrics';

/** `GET /metrics`: the Prometheus text exposition. */
export function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: Metrics) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: '/metrics answers GET and HEAD only' } }));
    return;
  }
  const body = metrics.render();
  res.writeHead(200, {
    'content-type': METRICS_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
