import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FaultKind, newKey } from '@ledger/testkit';
import { idempotentPaths } from 'trpc-idempotency';
import { describe, expect, it } from 'vitest';
import { createLedgerApp, type LedgerAppOptions } from '../src/app';

/** The ledger app on a fresh SQLite file, listening on a free port, with a small built web app. */
async function webServer(opts: LedgerAppOptions & { built?: boolean } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-web-'));
  const root = join(dir, 'dist');
  if (opts.built !== false) {
    mkdirSync(join(root, 'assets'), { recursive: true });
    writeFileSync(join(root, 'index.html'), '<!doctype html><title>Ledger</title>');
    writeFileSync(join(root, 'assets', 'app-1a2b.js'), 'console.log(1)');
  }
  writeFileSync(join(dir, 'secret.txt'), 'outside the web root');
  const app = createLedgerApp({
    ...opts,
    databaseUrl: `file:${join(dir, 'ledger.db')}`,
    web: { ...opts.web, root },
  });
  const { url } = await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = new URL(url).origin;
  return {
    app,
    origin,
    post(path: string, input: unknown) {
      return fetch(`${origin}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: JSON.stringify(input),
      });
    },
    count(table: 'accounts' | 'transfers') {
      const { database } = app;
      return (
        database.db.$client.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }
      ).n;
    },
    async [Symbol.asyncDispose]() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('the web app at /', () => {
  it('serves the page (never cached) and its hashed assets (cached for good)', async () => {
    await using server = await webServer();
    const page = await fetch(`${server.origin}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(await page.text()).toContain('<title>Ledger</title>');

    const asset = await fetch(`${server.origin}/assets/app-1a2b.js`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toBe('console.log(1)');

    const head = await fetch(`${server.origin}/index.html`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('36');
    expect((await fetch(`${server.origin}/`, { method: 'POST' })).status).toBe(405);
  });

  it('nothing outside its folder, and the API’s 404 for what it does not have', async () => {
    await using server = await webServer();
    for (const path of ['/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/nope', '/%E0']) {
      const response = await fetch(`${server.origin}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).not.toContain('outside the web root');
    }
    expect(await (await fetch(`${server.origin}/nope`)).json()).toEqual({
      error: { message: 'not found: /nope; the API is at /trpc' },
    });
  });

  it('says how to build it when it is not built', async () => {
    await using server = await webServer({ built: false });
    const page = await fetch(`${server.origin}/`);
    expect(page.status).toBe(503);
    expect(await page.text()).toContain('run pnpm --filter @ledger/web build');
  });
});

describe('the Idempotent-Replayed header (the library’s idempotencyResponseHeaders)', () => {
  it('is `true` on a response answered from a stored outcome, absent on a first execution', async () => {
    await using server = await webServer();
    const input = { idempotencyKey: newKey(), owner: 'Ann', initialBalance: 10 };
    const first = await server.post('/trpc/accounts.open', input);
    const again = await server.post('/trpc/accounts.open', input);

    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(await first.json());
    expect(server.count('accounts')).toBe(1);
  });

  it('marks a batch only when every call in it replayed', async () => {
    await using server = await webServer();
    const ann = { idempotencyKey: newKey(), owner: 'Ann', initialBalance: 10 };
    const bob = { idempotencyKey: newKey(), owner: 'Bob', initialBalance: 10 };
    await server.post('/trpc/accounts.open', ann);
    const batch = (...inputs: object[]) =>
      server.post(
        `/trpc/${inputs.map(() => 'accounts.open').join(',')}?batch=1`,
        Object.fromEntries(inputs.map((input, index) => [index, input])),
      );

    const mixed = await batch(ann, bob); // Ann's replays, Bob's executes
    expect(mixed.status).toBe(200);
    expect(mixed.headers.get('idempotent-replayed')).toBeNull();
    const replayed = await batch(ann, bob);
    expect(replayed.headers.get('idempotent-replayed')).toBe('true');
    expect(await replayed.json()).toEqual(await mixed.json());
    expect(server.count('accounts')).toBe(2);
  });
});

describe('/flaky/trpc: the API through the fault proxy', () => {
  it('each fault reaches the browser as it would on a real network; the retries land once', async () => {
    const plan: Array<FaultKind | undefined> = ['lostResponse', 'reset', 'badGateway'];
    await using server = await webServer({ web: { flaky: { decide: (n) => plan[n] } } });
    const input = { idempotencyKey: newKey(), owner: 'Ann', initialBalance: 10 };

    // The answer is lost after the server opened the account; then the connection is reset.
    await expect(server.post('/flaky/trpc/accounts.open', input)).rejects.toThrow();
    await expect(server.post('/flaky/trpc/accounts.open', input)).rejects.toThrow();
    const gateway = await server.post('/flaky/trpc/accounts.open', input);
    expect(gateway.status).toBe(502);
    expect(gateway.headers.get('content-type')).toBe('text/html');
    const answered = await server.post('/flaky/trpc/accounts.open', input);

    expect(answered.status).toBe(200);
    expect(answered.headers.get('idempotent-replayed')).toBe('true');
    expect(server.count('accounts')).toBe(1);
    expect(await server.app.web.flakyStats()).toMatchObject({
      requests: 4,
      forwarded: 2,
      faults: { lostResponse: 1, reset: 1, badGateway: 1 },
    });
    // Queries are not faulted.
    const health = await fetch(`${server.origin}/flaky/trpc/health`);
    expect(await health.json()).toEqual({ result: { data: { ok: true } } });
  });
});

it('the ledger’s idempotent mutations, as clients list them', async () => {
  await using server = await webServer();
  expect(await idempotentPaths(server.app.router)).toEqual([
    'accounts.open',
    'payouts.create',
    'transfers.create',
  ]);
});
