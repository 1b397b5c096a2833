import type { AddressInfo } from 'node:net';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { idempotencyResponseHeaders } from 'trpc-idempotency';
import { createSqliteBenchRouter } from '../app/router';
import { openBenchSqlite } from '../app/sqlite';
import type { ClientMessage, ServerMessage } from './protocol';

/**
 * The benchmark's HTTP server, in a process of its own so the load generator
 * does not share its event loop: the bench router on the example's SQLite
 * database in a temp file, served like the ledger server serves its router
 * (standalone adapter, the caller in `x-user-id`, `Retry-After` on
 * in-progress conflicts).
 */
const database = await openBenchSqlite('http');
const router = createSqliteBenchRouter(database);
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

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  server.closeAllConnections();
  server.close(() => {
    void Promise.resolve(database[Symbol.asyncDispose]()).finally(() => {
      if (process.connected) process.disconnect();
    });
  });
}

process.on('message', (message: ClientMessage) => {
  if (message.type === 'count') {
    const { user, system } = process.cpuUsage();
    send({ type: 'counts', ...database.count(), cpuUs: user + system });
  } else if (message.type === 'close') {
    shutdown();
  }
});
// The benchmark went away without saying goodbye: do not outlive it.
process.on('disconnect', shutdown);

server.listen(0, '127.0.0.1', () => {
  send({ type: 'ready', port: (server.address() as AddressInfo).port, request: database.request });
});
