import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createWebApp, openDatabase } from '@ledger/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { expect, inject, it } from 'vitest';
import { launchChromium } from './browser';
import { createPlainMutationRouter, type Received } from './fixtures/plainMutation/router';

/** The test page and its tiny tRPC app (plain and idempotent mutations), on one origin. */
async function plainMutationApp() {
  const dir = mkdtempSync(join(tmpdir(), 'plain-mutation-'));
  const database = await openDatabase(`file:${join(dir, 'app.db')}`);
  const received: Received = { 'notes.add': [], 'notes.tag': [], 'orders.place': [] };
  const requests: string[] = [];
  const trpc = createHTTPHandler({
    router: createPlainMutationRouter({ store: database.store, received }),
    basePath: '/trpc/',
    createContext: ({ req }) => ({ userId: String(req.headers['x-user-id'] ?? '') }),
  });
  const page = createWebApp({ root: inject('plainPageRoot') });
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost');
    if (pathname.startsWith('/trpc/')) {
      requests.push(pathname);
      trpc(req, res);
    } else if (!page.handle(req, res, pathname)) {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    requests,
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await database.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface CallResult {
  ok: boolean;
  data?: unknown;
  message?: string;
  code?: string;
}

it('one client, in Chromium: a plain mutation failing with a 500 runs once, untouched; idempotent ones get their key', async () => {
  await using app = await plainMutationApp();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(app.origin);
    await page.waitForFunction(() => document.title === 'ready');
    const call = (name: string, ...args: unknown[]) =>
      page.evaluate(
        ([callName, callArgs]) =>
          (window as unknown as { calls: Record<string, (...a: unknown[]) => Promise<unknown>> })
            .calls[callName as string]!(...(callArgs as unknown[])),
        [name, args] as const,
      ) as Promise<CallResult>;

    const failed = await call('addNote');
    expect(failed).toEqual({ ok: false, message: 'notes are down', code: 'INTERNAL_SERVER_ERROR' });
    // Once: no key added, not retried by the link or by TanStack Query.
    expect(app.received['notes.add']).toEqual([{ text: 'hello' }]);
    expect(app.requests.filter((path) => path === '/trpc/notes.add')).toHaveLength(1);

    // A strict input: nothing added to it.
    expect(await call('tagNote')).toEqual({ ok: true, data: { tagged: 'urgent' } });
    expect(app.received['notes.tag']).toEqual([{ tag: 'urgent' }]);

    // The idempotent one, through the same client, with its key; twice with one key, run once.
    const key = 'order-0000000000000001';
    expect(await call('placeOrder', key)).toEqual({ ok: true, data: { item: 'tea' } });
    expect(await call('placeOrder', key)).toEqual({ ok: true, data: { item: 'tea' } });
    expect(app.received['orders.place']).toEqual([{ item: 'tea', idempotencyKey: key }]);
  } finally {
    await browser.close();
  }
});
