import type { IncomingMessage, ServerResponse } from 'node:http';
import { METRICS_CONTENT_TYPE, type Metrics } from './metrics';

/** `GET /metrics`: the Prometheus text exposition; a collection that fails is a 500, never a crash. */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, metrics: Metrics) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: '/metrics answers GET and HEAD only' } }));
    return;
  }
  let body: string;
  try {
    body = await metrics.render();
  } catch (error) {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { message: `metrics collection failed: ${String(error)}` } }));
    return;
  }
  res.writeHead(200, {
    'content-type': METRICS_CONTENT_TYPE,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}
