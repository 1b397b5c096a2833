// @vitest-environment jsdom
/**
 * The README's React examples (`examples/reactQuery/`), rendered with
 * react-dom in jsdom (IndexedDB from fake-indexeddb) and talking over real
 * HTTP to the Quickstart's server, through a proxy that can hold answers back:
 * a double submit runs one payment, and an operation whose answer never came
 * before the page closed is resumed with its key by the next mount.
 */
import 'fake-indexeddb/auto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { createStore, entries } from 'idb-keyval';
import { createElement, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { closeServer, exampleFolder, loadExample, urlOf } from './helpers/examples';

/** What the proxy saw of one request to `pay`. */
interface PayRequest {
  user: string;
  keys: string[];
  status: number;
  replayed: boolean;
}

async function bodyOf(req: IncomingMessage) {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * An HTTP proxy in front of `upstream` (a tRPC base URL) that notes every call
 * of `pay` and, while `hold` is on, forwards it (the server runs it) but keeps
 * the answer back until `release()`: a response still on its way.
 */
async function holdingProxy(upstream: string) {
  const pay: PayRequest[] = [];
  let holding = false;
  const held: Array<() => void> = [];
  const server = createServer(async (req, res) => {
    const body = req.method === 'POST' ? await bodyOf(req) : undefined;
    const hold = holding;
    const answer = await fetch(`${upstream}${req.url}`, {
      method: req.method,
      headers: {
        'content-type': String(req.headers['content-type'] ?? 'application/json'),
        'x-user-id': String(req.headers['x-user-id'] ?? ''),
      },
      body,
    });
    const text = await answer.text();
    if (req.url?.startsWith('/pay')) {
      pay.push({
        user: String(req.headers['x-user-id']),
        keys: [...(body ?? '').matchAll(/"idempotencyKey":"([^"]+)"/g)].map((match) => match[1]!),
        status: answer.status,
        replayed: answer.headers.get('idempotent-replayed') === 'true',
      });
    }
    if (hold) await new Promise<void>((resolve) => held.push(resolve));
    res.writeHead(answer.status, { 'content-type': 'application/json' }).end(text);
  });
  server.listen(0, '127.0.0.1');
  return {
    url: await urlOf(server, ''),
    server,
    /** The calls of `pay` the server answered, in order (held or not). */
    payRequests: (user: string) => pay.filter((request) => request.user === user),
    hold(on: boolean) {
      holding = on;
    },
    /** Answers held so far. */
    held: () => held.length,
    release() {
      for (const resolve of held.splice(0)) resolve();
    },
  };
}

/** The example app mounted in the page, in StrictMode as apps mount it. */
async function mountApp(props: { apiUrl: string; userId: string }) {
  const { App } = await loadExample('reactQuery/App.tsx');
  const container = document.createElement('div');
  document.body.append(container);
  const root = createRoot(container);
  root.render(createElement(StrictMode, null, createElement(App, props)));
  await vi.waitFor(() => expect(container.querySelector('button')).not.toBeNull());
  return {
    pay: () => container.querySelector('button')!.click(),
    status: () => container.querySelector('[role="status"]')?.textContent,
    /** The page closes: React and the app's QueryClient are gone with it. */
    close() {
      root.unmount();
      container.remove();
    },
  };
}

/** The operations persisted in the default IndexedDB store, by `[namespace, key]`. */
async function persisted() {
  const store = createStore('trpc-idempotency', 'pending-operations');
  return (await entries(store)).map(([id]) => id as [string, string]);
}

describe('the React examples, against the Quickstart’s server', () => {
  const folder = exampleFolder();
  // biome-ignore lint/suspicious/noExplicitAny: the examples' own types are checked by tsc
  let router: any;
  let server: Server | undefined;
  let proxy: Awaited<ReturnType<typeof holdingProxy>>;

  beforeAll(async () => {
    vi.stubEnv('DATABASE_FILE', join(folder.dir, 'app.db'));
    vi.stubEnv('PORT', '0');
    router = await loadExample('quickstart/router.ts');
    server = (await loadExample('quickstart/server.ts')).server;
    proxy = await holdingProxy(await urlOf(server as Server, '/trpc'));
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    proxy?.release();
    if (proxy) await closeServer(proxy.server);
    if (server) await closeServer(server);
    router?.db.$client.close();
    folder[Symbol.dispose]();
  });

  const payments = () =>
    (router.db.$client.prepare('SELECT count(*) AS n FROM payments').get() as { n: number }).n;

  it('PayForm: a double submit is one payment; the form submitted after its outcome, another', async () => {
    const page = await mountApp({ apiUrl: proxy.url, userId: 'alice' });
    const before = payments();

    proxy.hold(true);
    page.pay();
    await vi.waitFor(() => expect(proxy.held()).toBe(1)); // paid, the answer on its way
    page.pay(); // the second click of a double click
    proxy.hold(false);
    proxy.release();
    await vi.waitFor(() => expect(page.status()).toMatch(/^Paid: payment \d+$/));
    expect(proxy.payRequests('alice')).toHaveLength(1);
    expect(payments()).toBe(before + 1);

    // The outcome is known: the same form again is a new operation, with a new key.
    page.pay();
    await vi.waitFor(() => expect(proxy.payRequests('alice')).toHaveLength(2));
    const [first, second] = proxy.payRequests('alice');
    expect(second!.keys).toHaveLength(1);
    expect(second!.keys).not.toEqual(first!.keys);
    expect(second!.replayed).toBe(false);
    expect(payments()).toBe(before + 2);
    await vi.waitFor(async () => expect(await persisted()).toEqual([]));
    page.close();
  });

  it('Operations: a payment whose answer never came is persisted, and resumed with its key by the next mount', async () => {
    const before = payments();
    const first = await mountApp({ apiUrl: proxy.url, userId: 'bob' });
    proxy.hold(true);
    first.pay();
    await vi.waitFor(() => expect(proxy.held()).toBe(1));
    const [sent] = proxy.payRequests('bob');
    expect(sent!.keys).toHaveLength(1);
    const key = sent!.keys[0]!;
    // Persisted before its answer, under its user: the page can close now.
    expect(await persisted()).toEqual([['bob', key]]);
    first.close();
    proxy.hold(false);

    // The app starts again (a reload): it resumes the operation with its key, and the server replays.
    const second = await mountApp({ apiUrl: proxy.url, userId: 'bob' });
    await vi.waitFor(() => expect(proxy.payRequests('bob')).toHaveLength(2));
    expect(proxy.payRequests('bob')[1]).toEqual({
      user: 'bob',
      keys: [key],
      status: 200,
      replayed: true,
    });
    // Its outcome is known: nothing left to resume by a later start, and one payment in all.
    await vi.waitFor(async () => expect(await persisted()).toEqual([]));
    expect(payments()).toBe(before + 1);
    second.close();
    proxy.release(); // the closed page's answer, to nobody
  });
});
