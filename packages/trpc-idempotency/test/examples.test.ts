/**
 * Every example the README shows (`examples/`), typechecked as an app would
 * and run: the Quickstart's server and client over real HTTP on a real SQLite
 * file, each adapter, lease mode against a payment API, the client helpers.
 * The React ones render in `examples.reactQuery.test.ts`.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from '@trpc/client';
import type { AnyTRPCRouter } from '@trpc/server';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import superjson from 'superjson';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { idempotencyLink } from '../src/client';
import { migrateSqliteIdempotencyStore, sqliteIdempotencyStore } from '../src/sqlite';
import { closeServer, exampleFolder, examplesFolder, loadExample, urlOf } from './helpers/examples';
import { newKey } from './helpers/sqliteApp';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);

it('typecheck as an app’s code (examples/tsconfig.json)', async () => {
  await expect(
    run(join(root, 'node_modules/.bin/tsc'), ['-p', join(examplesFolder, 'tsconfig.json')], {
      cwd: root,
    }),
  ).resolves.toMatchObject({ stdout: '' });
}, 60_000);

describe('on the Quickstart’s router and SQLite file', () => {
  const folder = exampleFolder();
  // biome-ignore lint/suspicious/noExplicitAny: the examples' own types are checked by tsc above
  let router: any;
  // The standalone server of the Quickstart: loaded once, as a module runs once.
  let server: Server | undefined;
  let url: string;

  beforeAll(async () => {
    vi.stubEnv('DATABASE_FILE', join(folder.dir, 'app.db'));
    vi.stubEnv('PORT', '0');
    router = await loadExample('quickstart/router.ts');
    server = (await loadExample('quickstart/server.ts')).server;
    url = await urlOf(server as Server, '/trpc');
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    if (server) await closeServer(server);
    router?.db.$client.close();
    folder[Symbol.dispose]();
  });

  /** A typed client of the Quickstart's router through `fetch`, as its client example makes one. */
  function clientVia(url: string, fetch?: (url: string, init: RequestInit) => Promise<Response>) {
    return createTRPCClient<AnyTRPCRouter>({
      links: [
        idempotencyLink<AnyTRPCRouter>({ procedures: { pay: true } }),
        httpBatchLink({
          url,
          transformer: superjson,
          headers: { 'x-user-id': 'alice' },
          ...(fetch && { fetch: (input, init) => fetch(String(input), init as RequestInit) }),
        }),
      ],
    }) as unknown as {
      pay: { mutate(input: object): Promise<{ paymentId: number; paidAt: Date }> };
    };
  }

  /** POSTs `pay` as any HTTP client would (superjson-encoded, as the transformer expects). */
  function payRequest(url: string, input: object, user = 'alice') {
    return new Request(`${url}/pay`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': user },
      body: JSON.stringify(superjson.serialize(input)),
    });
  }

  it('Quickstart: the server and the client run, a Date stays a Date, a kept key replays', async () => {
    vi.stubEnv('API_URL', url);
    const logged = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await loadExample('quickstart/client.ts');
      expect(logged.mock.calls).toEqual([
        [1, true],
        [true, true],
      ]);
    } finally {
      logged.mockRestore();
    }
    const payments = router.db.$client.prepare('SELECT count(*) AS n FROM payments').get();
    expect(payments).toEqual({ n: 2 });

    // Over raw HTTP: a replay says so in a header; a key reused for other input is a 422.
    const idempotencyKey = newKey();
    const first = await fetch(payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 7 }));
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const replay = await fetch(payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 7 }));
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.text()).toBe(await first.text());
    const reused = await fetch(payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 8 }));
    expect(reused.status).toBe(422);
    const unknown = await fetch(
      payRequest(url, { idempotencyKey: newKey(), invoiceId: 'x', amount: 1 }),
    );
    expect(unknown.status).toBe(404);
  });

  it('the Next.js App Router route handler (fetch adapter)', async () => {
    const route = await loadExample('adapters/nextRouteHandler.ts');
    const url = 'http://localhost:3000/api/trpc';
    // As Next.js calls it: a web Request in, a web Response out.
    const client = clientVia(url, (input, init) => route.POST(new Request(input, init)));
    const paid = await client.pay.mutate({ invoiceId: 'inv_1', amount: 3 });
    expect(paid.paidAt).toBeInstanceOf(Date);
    const idempotencyKey = newKey();
    await route.POST(payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 3 }));
    const replay = await route.POST(
      payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 3 }),
    );
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    const anonymous = await route.POST(
      payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 3 }, ''),
    );
    expect(anonymous.status).toBe(401);
  });

  it('Hono with the fetch adapter', async () => {
    const { app } = await loadExample('adapters/hono.ts');
    const url = 'http://localhost/trpc';
    const client = clientVia(url, (input, init) => app.fetch(new Request(input, init)));
    expect((await client.pay.mutate({ invoiceId: 'inv_1', amount: 4 })).paidAt).toBeInstanceOf(
      Date,
    );
    const idempotencyKey = newKey();
    const first = await app.fetch(
      payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 4 }),
    );
    const replay = await app.fetch(
      payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 4 }),
    );
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.text()).toBe(await first.text());
  });

  it('Express, over real HTTP', async () => {
    const { server } = await loadExample('adapters/express.ts');
    try {
      const url = await urlOf(server, '/trpc');
      const client = clientVia(url);
      expect((await client.pay.mutate({ invoiceId: 'inv_1', amount: 5 })).paidAt).toBeInstanceOf(
        Date,
      );
      const idempotencyKey = newKey();
      await fetch(payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 5 }));
      const replay = await fetch(
        payRequest(url, { idempotencyKey, invoiceId: 'inv_1', amount: 5 }),
      );
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
    } finally {
      await closeServer(server);
    }
  });

  it('the replay marker link and the client error helpers, against the standalone server', async () => {
    const { replayMarkerLink } = await loadExample('replayMarkerLink.ts');
    const { describeFailure } = await loadExample('clientErrors.ts');
    const replays: string[] = [];
    const client = createTRPCClient<AnyTRPCRouter>({
      links: [
        idempotencyLink<AnyTRPCRouter>({ procedures: { pay: true } }),
        replayMarkerLink((path: string) => replays.push(path)),
        httpBatchLink({ url, transformer: superjson, headers: { 'x-user-id': 'alice' } }),
      ],
    }) as unknown as ReturnType<typeof clientVia>;
    const idempotencyKey = newKey();
    await client.pay.mutate({ idempotencyKey, invoiceId: 'inv_1', amount: 6 });
    expect(replays).toEqual([]);
    await client.pay.mutate({ idempotencyKey, invoiceId: 'inv_1', amount: 6 });
    expect(replays).toEqual(['pay']);

    const reused = await client.pay
      .mutate({ idempotencyKey, invoiceId: 'inv_1', amount: 60 })
      .catch((e: unknown) => e);
    expect(describeFailure(reused)).toMatch(
      /^start a new operation with a new key \(idempotency key was first used with different input/,
    );
    const plain = createTRPCClient<AnyTRPCRouter>({
      links: [httpLink({ url, transformer: superjson, headers: { 'x-user-id': 'alice' } })],
    }) as unknown as ReturnType<typeof clientVia>;
    const invalid = await plain.pay
      .mutate({ idempotencyKey: 'short', invoiceId: 'inv_1', amount: 1 })
      .catch((e: unknown) => e);
    expect(describeFailure(invalid)).toBe('idempotency error IDEMPOTENCY_KEY_INVALID');
    // A 409 as the server sends it (the link retries these itself, so it rarely reaches you).
    const inProgress = TRPCClientError.from({
      error: {
        code: -32009,
        message: 'still in progress',
        data: {
          code: 'CONFLICT',
          httpStatus: 409,
          reason: 'IDEMPOTENCY_IN_PROGRESS',
          retryAfterMs: 250,
        },
      },
    });
    expect(describeFailure(inProgress)).toBe('still running: retry with the same key in 250 ms');
    expect(describeFailure(new Error('offline'))).toBe('offline');
  });

  it('the link options example fronts an HTTP link', async () => {
    const { link } = await loadExample('linkOptions.ts');
    const client = createTRPCClient<AnyTRPCRouter>({
      links: [
        link,
        httpBatchLink({ url, transformer: superjson, headers: { 'x-user-id': 'alice' } }),
      ],
    }) as unknown as ReturnType<typeof clientVia>;
    expect((await client.pay.mutate({ invoiceId: 'inv_1', amount: 2 })).paidAt).toBeInstanceOf(
      Date,
    );
  });

  it('the link chain example: retryLink first repeats a call with its key', async () => {
    const { createClient } = await loadExample('clientLinks.ts');
    const keys: string[] = [];
    let lose = 2;
    const lossy = async (input: string, init?: RequestInit) => {
      keys.push(String(/"idempotencyKey":"([^"]+)"/.exec(String(init?.body))?.[1]));
      const response = await fetch(input, init);
      if (lose-- > 0) throw new TypeError('fetch failed: the answer was lost');
      return response;
    };
    const countPayments = () =>
      (router.db.$client.prepare('SELECT count(*) AS n FROM payments').get() as { n: number }).n;
    const before = countPayments();
    const client = createClient({ url, userId: 'alice', fetch: lossy });
    expect((await client.pay.mutate({ invoiceId: 'inv_1', amount: 3 })).paidAt).toBeInstanceOf(
      Date,
    );
    expect(keys).toHaveLength(3);
    expect(new Set(keys).size).toBe(1);
    expect(countPayments()).toBe(before + 1);
  });

  it('lease mode: one downstream key per operation, however often it is retried', async () => {
    const seen: (string | undefined)[] = [];
    const gateway = createServer((req, res) => {
      seen.push(req.headers['idempotency-key']?.toString());
      // The first charge fails as a gateway outage would; the next succeeds.
      if (seen.length === 1) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: `ch_${seen.length}` }));
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    try {
      vi.stubEnv('PAYMENTS_URL', `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`);
      const { chargeRouter } = await loadExample('leaseMode.ts');
      const caller = chargeRouter.createCaller({ userId: 'alice' });
      const idempotencyKey = newKey();
      const input = { idempotencyKey, card: 'tok_visa', amount: 900 };
      await expect(caller.charge(input)).rejects.toThrow('the payment gateway answered 503');
      expect(await caller.charge(input)).toEqual({ chargeId: 'ch_2' });
      expect(await caller.charge(input)).toEqual({ chargeId: 'ch_2' }); // replayed: no third charge
      expect(seen).toHaveLength(2);
      expect(seen[0]).toBeDefined();
      expect(seen[1]).toBe(seen[0]);
    } finally {
      await closeServer(gateway as Server);
    }
  });
  it('multi-step handlers: a take-over resumes after the finished step, the cut-off one runs again with its downstream key', async () => {
    const calls: { path: string; key?: string }[] = [];
    let crash: (() => void) | undefined;
    const gateway = createServer((req, res) => {
      calls.push({ path: req.url ?? '', key: req.headers['idempotency-key']?.toString() });
      if (req.url === '/payouts' && calls.filter((c) => c.path === '/payouts').length === 1) {
        // The first payout call "crashes" the handler: it never gets an answer back.
        crash?.();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          req.url === '/reservations' ? { reservationId: 'r_1' } : { payoutId: 'p_1' },
        ),
      );
    });
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    vi.stubEnv('PAYOUTS_URL', `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`);
    try {
      const { db } = await loadExample('quickstart/router.ts');
      // Two server processes' worth of the example: the first crashes, the second takes over.
      const first = (await loadExample('multiStep.ts', { instance: 'first' })).payoutRouter;
      const second = (await loadExample('multiStep.ts', { instance: 'second' })).payoutRouter;
      const input = { idempotencyKey: newKey(), account: 'acc_1', amount: 100 };
      const crashed = new Promise<void>((resolve) => {
        crash = resolve;
      });
      void first
        .createCaller({ userId: 'alice' })
        .payout(input)
        .catch(() => undefined); // cut off inside its 'pay' step
      await crashed;
      // Its record is in progress with the finished 'reserve' step; the next request after its
      // lease (30 s) takes it over. Here the lease is moved back, as time passing would.
      db.$client.prepare('UPDATE idempotency_records SET lease_expires_at_ms = 0').run();
      expect(await second.createCaller({ userId: 'alice' }).payout(input)).toEqual({
        reservationId: 'r_1',
        payoutId: 'p_1',
        attempt: 2,
      });
      expect(calls.map((call) => call.path)).toEqual(['/reservations', '/payouts', '/payouts']);
      expect(calls[2]!.key).toBe(calls[1]!.key);
    } finally {
      gateway.closeAllConnections();
      await closeServer(gateway as Server);
    }
  });
});

it('the drizzle-kit schema example: your migrations make the table, the package’s then find it made', async () => {
  using folder = exampleFolder();
  await run(
    join(root, 'node_modules/.bin/drizzle-kit'),
    [
      'generate',
      '--dialect',
      'sqlite',
      '--schema',
      join(examplesFolder, 'drizzleSchema.ts'),
      '--out',
      join(folder.dir, 'drizzle'),
    ],
    // drizzle-kit loads the schema with Node: let it resolve the package to its source.
    {
      cwd: folder.dir,
      env: { ...process.env, NODE_OPTIONS: '--conditions=@trpc-idempotency/source' },
    },
  );
  const db = drizzle(new Database(join(folder.dir, 'app.db')));
  try {
    migrate(db, { migrationsFolder: join(folder.dir, 'drizzle') });
    migrateSqliteIdempotencyStore(db);
    const tables = db.$client
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .all()
      .map((row) => (row as { name: string }).name);
    expect(tables).toEqual(expect.arrayContaining(['idempotency_records', 'orders']));
    const store = sqliteIdempotencyStore({ db });
    expect(await store.find({ scope: 's', key: 'k', now: 0 })).toBeUndefined();
  } finally {
    db.$client.close();
  }
});

it('the admin example reads DATABASE_URL like the CLI and prints the records table’s stats', async () => {
  using folder = exampleFolder();
  const file = join(folder.dir, 'ops.db');
  const db = drizzle(new Database(file));
  migrateSqliteIdempotencyStore(db);
  db.$client.close();
  const logged: unknown[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args) => void logged.push(args));
  vi.stubEnv('DATABASE_URL', `file:${file}`);
  try {
    await loadExample('admin.ts');
  } finally {
    log.mockRestore();
    vi.unstubAllEnvs();
  }
  expect(logged[0]).toEqual([true]);
  expect(logged[1]).toEqual([expect.objectContaining({ total: 0, inProgress: 0, completed: 0 })]);
});
