import type { Server, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** What `close()` reports. */
export interface CloseResult {
  /** True when requests were still running at the shutdown deadline and were cut off. */
  forced: boolean;
}

/**
 * The server's graceful stop: stop accepting connections, let the requests
 * in flight finish (their responses carry `Connection: close`) until
 * `timeoutMs`, then cut what is left; close the web app, then the database
 * (after a forced stop, without waiting long for a pool's busy connections).
 */
export async function shutdown(opts: {
  server: Server;
  /** API responses not answered yet. */
  unanswered: ReadonlySet<ServerResponse>;
  /** Resolves once no procedure runs. */
  drained: () => Promise<void>;
  closeWeb: () => Promise<void>;
  closeDatabase: () => Promise<void>;
  timeoutMs: number;
}): Promise<CloseResult> {
  const { server } = opts;
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections close after their current response instead of idling.
  for (const res of opts.unanswered) if (!res.headersSent) res.setHeader('connection', 'close');
  server.closeIdleConnections();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<true>((resolve) => {
    timer = setTimeout(() => resolve(true), opts.timeoutMs);
  });
  const forced = await Promise.race([
    Promise.all([stopped, opts.drained()]).then(() => false as const),
    deadline,
  ]);
  clearTimeout(timer);
  if (forced) server.closeAllConnections();
  await opts.closeWeb();
  const closed = opts.closeDatabase();
  await (forced ? Promise.race([closed, sleep(1000)]) : closed);
  return { forced };
}
