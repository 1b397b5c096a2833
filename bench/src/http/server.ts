import type { AddressInfo } from 'node:net';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { idempotencyResponseHeaders } from 'trpc-idempotency';
import { openBenchDatabase } from '../app/database';
import { createBenchRouter } from '../app/router';
import type { ClientMessage, ServerMessage } from './protocol';

/**
 * The benchmark's HTTP server, in a process of its own so the load generator
 * does not share its event loop: the bench router on a temp SQLite file,
 * served like the ledger server serves its router (standalone adapter, the
 * caller in `x-user-id`, `Retry-After` on in-progress conflicts).
 */
const database = openBenchDatabase('http');
const router = createBenchRouter(database);
const server = createHTTPServer({
  router,
  basePath: '/trpc/',
  createContext: ({ req }) => {
    const header = req.headers['x-user-id'];
    return { userId: Array.isArray(header) ? header[0] : header };
  },
  responseMeta: ({ errors }) => ({ headers: idempotencyResponseHeaders({ errors }) }),
});

const send = (message: ServerMessage) => process.send?.(message);
const counts = database.db.$client.prepare(
  `SELECT (SELECT count(*) FROM transfers) AS transfers,
          (SELECT count(*) FROM idempotency_records WHERE state = 'completed') AS completedRecords`,
);

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close(() => {
    database[Symbol.dispose]();
    if (process.connected) process.disconnect();
  });
}

process.on('message', (message: ClientMessage) => {
  if (message.type === 'count') {
    send({ type: 'counts', ...(counts.get() as { transfers: number; completedRecords: number }) });
  } else if (message.type === 'close') {
    shutdown();
  }
});
// The benchmark went away without saying goodbye: do not outlive it.
process.on('disconnect', shutdown);

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
});
