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
import { QueryClient, QueryClientProvider, useMutation } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { type AnyTRPCRouter, initTRPC, TRPCError } from '@trpc/server';
import { createHTTPServer } from '@trpc/server/adapters/standalone';
import { createStore, entries } from 'idb-keyval';
import { createElement, StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
  idempotencyResponseContext,
  idempotencyResponseHeaders,
  idempotentProcedure,
} from '../src';
import { idempotencyLink } from '../src/client';
import { idempotentMutationOptions } from '../src/react-query';
import { closeServer, exampleFolder, loadExample, urlOf } from './helpers/examples';
import { sqliteTestDatabase } from './helpers/sqliteApp';

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
    newPayment: () => container.querySelectorAll('button')[1]!.click(),
    status: () => container.querySelector('[role="status"]')?.textContent,
    alert: () => container.querySelector('[role="alert"]')?.textContent,
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
  return (await entries(store))
    .map(([id]) => id)
    .filter((id): id is [string, string] => Array.isArray(id)); // not the server's horizon
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

  it('PayForm: a double submit is one payment; the same form again is that payment, “New payment” another', async () => {
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

    // The outcome is known: the same form again is the same payment, replayed.
    page.pay();
    await vi.waitFor(() => expect(page.status()).toMatch(/^Already paid: payment \d+$/));
    const [first, again] = proxy.payRequests('alice');
    expect(again!.keys).toEqual(first!.keys);
    expect(again!.replayed).toBe(true);
    expect(payments()).toBe(before + 1);

    // A new payment on purpose: a new key.
    page.newPayment();
    page.pay();
    await vi.waitFor(() => expect(proxy.payRequests('alice')).toHaveLength(3));
    const third = proxy.payRequests('alice')[2]!;
    expect(third.keys).toHaveLength(1);
    expect(third.keys).not.toEqual(first!.keys);
    expect(third.replayed).toBe(false);
    await vi.waitFor(() => expect(page.status()).toMatch(/^Paid: payment \d+$/));
    expect(payments()).toBe(before + 2);
    await vi.waitFor(async () => expect(await persisted()).toEqual([]));
    page.close();
  });

  it('PayForm after a reload: the same form again is the payment done before, “New payment” another', async () => {
    const before = payments();
    const first = await mountApp({ apiUrl: proxy.url, userId: 'gina' });
    first.pay();
    await vi.waitFor(() => expect(first.status()).toMatch(/^Paid: payment \d+$/));
    const [done] = proxy.payRequests('gina');
    first.close();

    // The page reloads; the user fills in the same form and pays again.
    const second = await mountApp({ apiUrl: proxy.url, userId: 'gina' });
    second.pay();
    await vi.waitFor(() => expect(second.status()).toMatch(/^Already paid: payment \d+$/));
    const again = proxy.payRequests('gina')[1]!;
    expect(again.keys).toEqual(done!.keys);
    expect(again.replayed).toBe(true);
    expect(payments()).toBe(before + 1);

    // A new payment on purpose: a new key, a second payment; the next reload knows that one.
    second.newPayment();
    second.pay();
    await vi.waitFor(() => expect(proxy.payRequests('gina')).toHaveLength(3));
    const other = proxy.payRequests('gina')[2]!;
    expect(other.keys).not.toEqual(done!.keys);
    expect(other.replayed).toBe(false);
    await vi.waitFor(() => expect(second.status()).toMatch(/^Paid: payment \d+$/));
    expect(payments()).toBe(before + 2);
    second.close();

    const third = await mountApp({ apiUrl: proxy.url, userId: 'gina' });
    third.pay();
    await vi.waitFor(() => expect(third.status()).toMatch(/^Already paid: payment \d+$/));
    expect(proxy.payRequests('gina')[3]).toMatchObject({ keys: other.keys, replayed: true });
    expect(payments()).toBe(before + 2);
    third.close();
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
    // The form shows what became of it, though another page asked for it.
    await vi.waitFor(() => expect(second.status()).toMatch(/^Paid: payment \d+$/));
    // Its outcome is known: nothing left to resume by a later start, and one payment in all.
    await vi.waitFor(async () => expect(await persisted()).toEqual([]));
    expect(payments()).toBe(before + 1);
    second.close();
    proxy.release(); // the closed page's answer, to nobody
  });

  it.for([
    ['useMutation(idempotentMutationOptions(…))', 'wrapped', 'erin'],
    ['a plain useMutation without a key', 'plain', 'frank'],
  ] as const)(
    '%s inside Operations: persisted in flight, resumed by the next mount',
    async ([, kind, user]) => {
      const before = payments();
      const first = await mountWith({ apiUrl: proxy.url, userId: user, kind });
      proxy.hold(true);
      first.pay();
      await vi.waitFor(() => expect(proxy.held()).toBe(1));
      const [sent] = proxy.payRequests(user);
      expect(sent!.keys).toHaveLength(1);
      expect(await persisted()).toEqual([[user, sent!.keys[0]]]);
      first.close();
      proxy.hold(false);

      const second = await mountWith({ apiUrl: proxy.url, userId: user, kind });
      await vi.waitFor(() => expect(proxy.payRequests(user)).toHaveLength(2));
      expect(proxy.payRequests(user)[1]).toMatchObject({ keys: sent!.keys, replayed: true });
      await vi.waitFor(async () => expect(await persisted()).toEqual([]));
      expect(payments()).toBe(before + 1);
      second.close();
      proxy.release();
      // The next test's user starts clean.
      proxy.payRequests(user).splice(0);
    },
  );
});

/**
 * A fresh app beside the README's: its own QueryClient and tRPC client, the
 * README's `Operations`, and a button running `pay` through `useMutation`
 * (wrapped with `idempotentMutationOptions` and a key, or plain).
 */
async function mountWith(props: { apiUrl: string; userId: string; kind: 'wrapped' | 'plain' }) {
  const { TRPCProvider, useTRPC } = await loadExample('reactQuery/trpc.ts');
  const { Operations } = await loadExample('reactQuery/Operations.tsx');
  const queryClient = new QueryClient();
  const trpcClient = createTRPCClient<AnyTRPCRouter>({
    links: [
      // The example's router is loaded at run time: any router's paths are accepted.
      idempotencyLink<AnyTRPCRouter>({ procedures: { pay: true } }),
      httpBatchLink({
        url: props.apiUrl,
        transformer: superjson,
        headers: { 'x-user-id': props.userId },
      }),
    ],
  });
  function PayButton() {
    const trpc = useTRPC();
    const options = trpc.pay.mutationOptions();
    const pay = useMutation(
      props.kind === 'wrapped' ? idempotentMutationOptions(options) : options,
    );
    const input = { invoiceId: 'inv_1', amount: 7 };
    return createElement(
      'button',
      {
        type: 'button',
        onClick: () =>
          pay.mutate(
            // The example's router types are checked by its own tsconfig; loaded here untyped.
            (props.kind === 'wrapped'
              ? { ...input, idempotencyKey: crypto.randomUUID() }
              : input) as never,
          ),
      },
      'Pay',
    );
  }
  const container = document.createElement('div');
  document.body.append(container);
  const root = createRoot(container);
  root.render(
    createElement(
      QueryClientProvider,
      { client: queryClient },
      createElement(
        TRPCProvider,
        { trpcClient, queryClient },
        createElement(Operations, { userId: props.userId }, createElement(PayButton)),
      ),
    ),
  );
  await vi.waitFor(() => expect(container.querySelector('button')).not.toBeNull());
  return {
    pay: () => container.querySelector('button')!.click(),
    close() {
      root.unmount();
      container.remove();
    },
  };
}

/**
 * The example app against a server whose `pay` fails on every call, the
 * README recipe's retries as written: a bug in the handler, or a service
 * that is down.
 */
async function failingServer(failure: () => never) {
  const database = sqliteTestDatabase();
  const t = initTRPC.context<{ userId: string | null }>().create({ transformer: superjson });
  const idempotent = idempotentProcedure({
    procedure: t.procedure,
    store: database.store,
    scope: ({ ctx }) => ctx.userId ?? '',
  });
  let calls = 0;
  const router = t.router({
    pay: idempotent
      .input(z.object({ invoiceId: z.string(), amount: z.number() }))
      .mutation((): { paymentId: number; paidAt: Date } => {
        calls++;
        return failure();
      }),
  });
  const server = createHTTPServer({
    router,
    basePath: '/trpc/',
    createContext: ({ req }) => ({
      userId: req.headers['x-user-id']?.toString() ?? null,
      ...idempotencyResponseContext(),
    }),
    responseMeta: (opts) => ({ headers: idempotencyResponseHeaders(opts) }),
  });
  server.listen(0, '127.0.0.1');
  return {
    url: await urlOf(server, '/trpc'),
    calls: () => calls,
    async [Symbol.asyncDispose]() {
      await closeServer(server);
      database[Symbol.dispose]();
    },
  };
}

describe('one retry budget for the link and TanStack Query (SPEC 7.11), the README recipe as written', () => {
  it('a bug in the handler: one request, the error shown at once (was 30 requests over 8.4 s)', async () => {
    await using server = await failingServer(() => {
      const invoice = undefined as unknown as { amountDue: number };
      throw new TypeError(`cannot read ${String(invoice.amountDue)}`);
    });
    const started = performance.now();
    const page = await mountApp({ apiUrl: server.url, userId: 'carol' });
    page.pay();
    await vi.waitFor(() => expect(page.alert()).toBeTruthy(), { timeout: 5000 });
    expect(performance.now() - started).toBeLessThan(2000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.calls()).toBe(1);
    // Its outcome is known (the server said no retry helps): not kept for a reload.
    await vi.waitFor(async () => expect(await persisted()).toEqual([]));
    page.close();
  });

  it('a service down: the link’s attempts only, then waiting, never an error on the page', async () => {
    await using server = await failingServer(() => {
      throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: 'down for maintenance' });
    });
    const page = await mountApp({ apiUrl: server.url, userId: 'dave' });
    page.pay();
    await vi.waitFor(() => expect(page.status()).toMatch(/^Waiting for the network/), {
      timeout: 10_000,
    });
    // The link's 5 attempts (its default), TanStack Query none on top.
    expect(server.calls()).toBe(5);
    expect(page.alert()).toBeUndefined();
    const [[namespace]] = (await persisted()) as [[string, string]];
    expect(namespace).toBe('dave');
    page.close();
  });
});
