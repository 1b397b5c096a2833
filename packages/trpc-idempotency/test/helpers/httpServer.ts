import type { AddressInfo } from 'node:net';
import type { AnyRouter } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { idempotencyResponseContext, idempotencyResponseHeaders } from '../../src';
import { it as itWithDatabase, type SqliteTestDatabase } from './sqliteApp';

/**
 * A real tRPC HTTP server on port 0 with the `x-user-id` header as the user,
 * and the idempotency response headers (`Retry-After`, `Idempotent-Replayed`).
 * `await using` closes it.
 */
export async function httpTestServer(router: AnyRouter, opts: { responseContext?: boolean } = {}) {
  const server = createHTTPServer({
    router,
    basePath: '/trpc/',
    createContext: ({ req, info }) => ({
      user: String(req.headers['x-user-id'] ?? ''),
      ...(opts.responseContext === false ? {} : idempotencyResponseContext({ req, info })),
    }),
    responseMeta: (meta) => ({ headers: idempotencyResponseHeaders(meta) }),
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/trpc`;
  return {
    url,
    /** POST a batch of mutations (`[path, input]` pairs), as `httpBatchLink` sends it. */
    mutateBatch(
      calls: [path: string, input: unknown][],
      user = 'alice',
      headers: Record<string, string> = {},
    ) {
      return fetch(`${url}/${calls.map(([path]) => path).join(',')}?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': user, ...headers },
        body: JSON.stringify(Object.fromEntries(calls.map(([, input], index) => [index, input]))),
      });
    },
    /** POST a mutation with a JSON body, as any HTTP client would. */
    mutate(path: string, input: unknown, user = 'alice', headers: Record<string, string> = {}) {
      return fetch(`${url}/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': user, ...headers },
        body: JSON.stringify(input),
      });
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export type HttpTestServer = Awaited<ReturnType<typeof httpTestServer>>;

/**
 * vitest's `it` with a `database` (see `sqliteApp.ts`), the `app` that
 * `makeApp` builds on it, and a `server` serving the app's router over HTTP;
 * each made for the tests that name it, and stopped after them.
 */
export function itServing<TApp extends { router: AnyRouter }>(
  makeApp: (database: SqliteTestDatabase) => TApp,
) {
  return itWithDatabase.extend<{ app: TApp; server: HttpTestServer }>({
    app: async ({ database }, use) => use(makeApp(database)),
    server: async ({ app }, use) => {
      await using server = await httpTestServer(app.router);
      await use(server);
    },
  });
}
