import { connect } from 'node:net';
import { type LedgerServerProcess, newKey, readLedger, startLedgerServer } from '@ledger/testkit';
import { DIALECTS, useFreshDatabases } from '@ledger/testkit/databases';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdWriteLock } from './helpers/databaseLocks';
import { transferInput } from './helpers/ledgerCalls';
import { balanceOf, openAccount, read } from './helpers/rawHttp';

async function recordCount(server: LedgerServerProcess) {
  return (await readLedger(server.databaseUrl)).records.length;
}

const databases = useFreshDatabases();

/** The real server process driven by raw HTTP: its API and error contract, on each database. */
describe.each(DIALECTS)('ledger server over HTTP on %s', (dialect) => {
  let server: LedgerServerProcess;
  beforeAll(async () => {
    server = await startLedgerServer({
      databaseUrl: await databases.create(dialect),
      // Short lock waits make the "database locked" transient failure quick to provoke.
      env: { SQLITE_BUSY_TIMEOUT_MS: '300', PG_LOCK_TIMEOUT_MS: '300' },
    });
  });
  afterAll(async () => {
    // Stops cleanly on SIGINT too.
    expect(await server.stop('SIGINT')).toEqual({ code: 0, signal: null });
    await server[Symbol.asyncDispose]();
  });

  it('answers health, and 404 outside /trpc', async () => {
    const health = await read(await fetch(`${server.url}/health`));
    expect(health).toMatchObject({ status: 200, body: { result: { data: { ok: true } } } });
    // `/` is the web app (its page, or a 503 saying it is not built), not the API.
    const home = await fetch(new URL('/', server.url));
    expect(home.headers.get('content-type')).toMatch(/^text\/(html|plain)/);
    expect((await read(await fetch(`${server.url}/nope`))).body.error.data.code).toBe('NOT_FOUND');
  });

  it('a malformed escape in the path or an unparsable request target gets a 4xx; the server keeps serving', async () => {
    const { origin, port } = new URL(server.url);
    for (const path of ['/trpc/accounts.get%E0', '/trpc/%E0,%E1?batch=1']) {
      const response = await read(await fetch(`${origin}${path}`));
      expect(response.status).toBe(400);
      expect(response.body.error.message).toMatch(/Invalid URL-encoding/);
    }
    expect((await fetch(`${origin}/metrics%E0`)).status).toBe(404);
    // A request target `new URL` cannot parse; fetch cannot send it, a socket can.
    const raw = await new Promise<string>((resolve, reject) => {
      let received = '';
      const socket = connect(Number(port), '127.0.0.1');
      socket.setEncoding('utf8').on('data', (chunk: string) => {
        received += chunk;
      });
      socket.on('error', reject).on('close', () => resolve(received));
      socket.write('GET http://[ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });

  it('opens accounts and reads them, reads without x-user-id', async () => {
    const response = await read(
      await server.mutate('accounts.open', {
        idempotencyKey: newKey(),
        owner: 'Ann',
        initialBalance: 42,
      }),
    );
    expect(response.status).toBe(200);
    const account = response.body.result.data;
    expect(account).toEqual({ id: expect.stringMatching(/^acc_/), owner: 'Ann', balance: 42 });
    const got = await read(await server.query('accounts.get', { id: account.id }));
    expect(got.body.result.data).toEqual(account);
    const list = await read(await server.query('transfers.list', { accountId: account.id }));
    expect(list.body.result.data).toEqual([]);
  });

  it('UNAUTHORIZED (401) for mutations without x-user-id; nothing stored', async () => {
    const records = await recordCount(server);
    const a = await openAccount(server, 'A', 10);
    const b = await openAccount(server, 'B', 10);
    for (const [path, input] of [
      ['accounts.open', { idempotencyKey: newKey(), owner: 'X', initialBalance: 1 }],
      [
        'transfers.create',
        { idempotencyKey: newKey(), fromAccountId: a, toAccountId: b, amount: 1 },
      ],
    ] as const) {
      const response = await read(await server.mutate(path, input, { user: null }));
      expect(response.status).toBe(401);
      expect(response.body.error.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
    }
    expect(await recordCount(server)).toBe(records + 2);
    expect(await balanceOf(server, a)).toBe(10);
  });

  it('400 IDEMPOTENCY_KEY_INVALID for a missing, empty, short, long or malformed key; nothing runs', async () => {
    const records = await recordCount(server);
    for (const idempotencyKey of [
      undefined,
      '',
      'short',
      'k'.repeat(256),
      'has spaces in it!!',
      42,
    ]) {
      const response = await read(
        await server.mutate('accounts.open', { idempotencyKey, owner: 'X', initialBalance: 1 }),
      );
      expect(response.status).toBe(400);
      expect(response.body.error.data).toMatchObject({
        code: 'BAD_REQUEST',
        httpStatus: 400,
        reason: 'IDEMPOTENCY_KEY_INVALID',
      });
      expect(response.body.error.message).toContain('`idempotencyKey`');
    }
    expect(await recordCount(server)).toBe(records);
  });

  it('400 BAD_REQUEST for invalid input and a transfer to the same account; the key stays free', async () => {
    const a = await openAccount(server, 'A', 10);
    const idempotencyKey = newKey();
    for (const input of [
      { fromAccountId: a, toAccountId: a, amount: 1 },
      { fromAccountId: a, toAccountId: 'acc_x', amount: 0 },
      { fromAccountId: a, toAccountId: 'acc_x', amount: 1.5 },
      { fromAccountId: a, toAccountId: 'acc_x', amount: '1' },
      { fromAccountId: a, amount: 1 },
    ]) {
      const response = await read(
        await server.mutate('transfers.create', { idempotencyKey, ...input }),
      );
      expect(response.status).toBe(400);
      expect(response.body.error.data.code).toBe('BAD_REQUEST');
      expect(response.body.error.data.reason).toBeUndefined();
      expect(response.body.error.data.issues.length).toBeGreaterThan(0);
    }
    const same = await read(
      await server.mutate('transfers.create', transferInput(a, a, 1, idempotencyKey)),
    );
    expect(same.body.error.message).toBe(
      'invalid input: toAccountId: must be a different account than fromAccountId',
    );
    // Nothing was stored for the key: the corrected request uses it.
    const b = await openAccount(server, 'B', 0);
    const fixed = await server.mutate('transfers.create', transferInput(a, b, 1, idempotencyKey));
    expect(fixed.status).toBe(200);
  });

  it('400 BAD_REQUEST for a string with a lone surrogate (as a JSON escape); nothing stored, the key stays free', async () => {
    const before = await recordCount(server);
    const idempotencyKey = newKey();
    // JSON.stringify would escape the lone surrogate as \ud800 too; spelled out here.
    const post = (body: string) =>
      fetch(`${server.url}/accounts.open`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body,
      });
    const refused = await read(
      await post(`{"idempotencyKey":"${idempotencyKey}","owner":"a\\ud800b","initialBalance":1}`),
    );
    expect(refused.status).toBe(400);
    expect(refused.body.error.data).toMatchObject({
      code: 'BAD_REQUEST',
      issues: [{ path: 'owner', message: expect.stringMatching(/lone surrogate/) }],
    });
    expect(refused.body.error.data.reason).toBeUndefined();
    const id = await openAccount(server, 'A', 1);
    const lookup = await read(await server.query('accounts.get', { id: `${id}\udc00` }));
    expect(lookup.status).toBe(400);
    expect(lookup.body.error.data.issues).toEqual([
      { path: 'id', message: expect.stringMatching(/lone surrogate/) },
    ]);
    expect(await recordCount(server)).toBe(before + 1);
    // The key is free for the corrected request, whose answer is what the database holds.
    const opened = await read(
      await post(
        `{"idempotencyKey":"${idempotencyKey}","owner":"a\\ud83d\\ude00b","initialBalance":1}`,
      ),
    );
    expect(opened.body.result.data.owner).toBe('a😀b');
    const stored = await read(
      await server.query('accounts.get', { id: opened.body.result.data.id }),
    );
    expect(stored.body.result.data.owner).toBe('a😀b');
  });

  it('400 "Batch call exceeds maximum size" for a batch of more than 100 calls: none of them runs', async () => {
    const before = await recordCount(server);
    const batchOf = (calls: number) =>
      fetch(`${server.url}/${Array(calls).fill('accounts.open').join(',')}?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: JSON.stringify(
          Object.fromEntries(
            Array.from({ length: calls }, (_, i) => [
              i,
              { idempotencyKey: newKey(), owner: `Batch ${i}`, initialBalance: 0 },
            ]),
          ),
        ),
      });
    const refused = await read(await batchOf(101));
    expect(refused).toMatchObject({
      status: 400,
      body: {
        error: {
          message: 'Batch call exceeds maximum size',
          data: { code: 'BAD_REQUEST', httpStatus: 400 },
        },
      },
    });
    expect(await recordCount(server)).toBe(before);
    // Queries count the same; 100 calls are allowed.
    const health = (calls: number) =>
      fetch(`${server.url}/${Array(calls).fill('health').join(',')}?batch=1&input={}`);
    expect((await health(101)).status).toBe(400);
    const allowed = await read(await health(100));
    expect(allowed.status).toBe(200);
    expect(allowed.body).toHaveLength(100);
  });

  it('404 NOT_FOUND for unknown accounts; a transfer’s NOT_FOUND is final and replayed', async () => {
    expect(
      (await read(await server.query('accounts.get', { id: 'acc_missing' }))).body.error.data,
    ).toMatchObject({
      code: 'NOT_FOUND',
      httpStatus: 404,
    });
    expect((await server.query('transfers.list', { accountId: 'acc_missing' })).status).toBe(404);
    const a = await openAccount(server, 'A', 10);
    const input = {
      idempotencyKey: newKey(),
      fromAccountId: a,
      toAccountId: 'acc_missing',
      amount: 1,
    };
    const first = await read(await server.mutate('transfers.create', input));
    const retry = await read(await server.mutate('transfers.create', input));
    expect(first.status).toBe(404);
    expect(first.body.error.message).toBe('account acc_missing not found');
    expect(retry.text).toBe(first.text);
  });

  it('412 PRECONDITION_FAILED for insufficient funds, replayed byte-identically', async () => {
    const a = await openAccount(server, 'A', 10);
    const b = await openAccount(server, 'B', 100);
    const input = { idempotencyKey: newKey(), fromAccountId: a, toAccountId: b, amount: 11 };
    const first = await read(await server.mutate('transfers.create', input));
    expect(first.status).toBe(412);
    expect(first.body.error.data).toMatchObject({ code: 'PRECONDITION_FAILED', httpStatus: 412 });
    expect(first.body.error.message).toMatch(/^insufficient funds/);
    // Even once the money is there, this key's answer stays what it was.
    await server.mutate('transfers.create', transferInput(b, a, 50));
    const retry = await read(await server.mutate('transfers.create', input));
    expect(retry.status).toBe(412);
    expect(retry.text).toBe(first.text);
    expect(await balanceOf(server, a)).toBe(60);
  });

  it('replays a success byte-identically, whatever the order of the input’s fields', async () => {
    const a = await openAccount(server, 'A', 100);
    const b = await openAccount(server, 'B', 0);
    const idempotencyKey = newKey();
    const executedBefore = server.events('executed').length;
    const first = await read(
      await server.mutate('transfers.create', transferInput(a, b, 30, idempotencyKey)),
    );
    expect(first.status).toBe(200);
    expect(first.body.result.data).toEqual({
      id: expect.stringMatching(/^tr_/),
      fromAccountId: a,
      toAccountId: b,
      amount: 30,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
    });
    const again = await read(
      await server.mutate('transfers.create', {
        amount: 30,
        toAccountId: b,
        fromAccountId: a,
        idempotencyKey,
      }),
    );
    expect(again.status).toBe(200);
    expect(again.text).toBe(first.text);
    expect(await balanceOf(server, a)).toBe(70);
    expect(server.events('executed').length - executedBefore).toBe(1);
    await server.waitForLog(
      (line) => line.msg === 'replayed' && line['path'] === 'transfers.create',
    );
  });

  it('422 IDEMPOTENCY_KEY_REUSED with other input or another procedure; the record is untouched', async () => {
    const a = await openAccount(server, 'A', 100);
    const b = await openAccount(server, 'B', 0);
    const input = { idempotencyKey: newKey(), fromAccountId: a, toAccountId: b, amount: 5 };
    const original = await read(await server.mutate('transfers.create', input));
    for (const [path, other] of [
      ['transfers.create', { ...input, amount: 6 }],
      ['accounts.open', { idempotencyKey: input.idempotencyKey, owner: 'X', initialBalance: 5 }],
    ] as const) {
      const response = await read(await server.mutate(path, other));
      expect(response.status).toBe(422);
      expect(response.body.error.data).toMatchObject({
        code: 'UNPROCESSABLE_CONTENT',
        httpStatus: 422,
        reason: 'IDEMPOTENCY_KEY_REUSED',
      });
      expect(response.body.error.message).toMatch(/idempotency key was first used/);
    }
    expect((await read(await server.mutate('transfers.create', input))).text).toBe(original.text);
    expect(await balanceOf(server, a)).toBe(95);
  });

  it('the same key under another x-user-id is a new operation', async () => {
    const a = await openAccount(server, 'A', 100);
    const b = await openAccount(server, 'B', 0);
    const input = { idempotencyKey: newKey(), fromAccountId: a, toAccountId: b, amount: 10 };
    const alice = await read(await server.mutate('transfers.create', input, { user: 'alice' }));
    const bob = await read(await server.mutate('transfers.create', input, { user: 'bob' }));
    expect(alice.status).toBe(200);
    expect(bob.status).toBe(200);
    expect(bob.body.result.data.id).not.toBe(alice.body.result.data.id);
    expect(await balanceOf(server, a)).toBe(80);
  });

  it('takes the key of a single call from the Idempotency-Key header; the input’s key wins', async () => {
    const a = await openAccount(server, 'A', 100);
    const b = await openAccount(server, 'B', 0);
    const key = newKey();
    const transfer = (headers: Record<string, string>, input: object = {}) =>
      fetch(`${server.url}/transfers.create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice', ...headers },
        body: JSON.stringify({ fromAccountId: a, toAccountId: b, amount: 10, ...input }),
      });
    const first = await transfer({ 'idempotency-key': key });
    const again = await transfer({ 'idempotency-key': key });
    expect(first.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.text()).toBe(await first.text());
    expect(await balanceOf(server, a)).toBe(90);
    // Both present: the input's key is the record's, the header's stays unused.
    const other = newKey();
    const both = await transfer({ 'idempotency-key': other }, { idempotencyKey: key });
    expect(both.headers.get('idempotent-replayed')).toBe('true');
    const malformed = await read(await transfer({ 'idempotency-key': 'short' }));
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.data.reason).toBe('IDEMPOTENCY_KEY_INVALID');
    expect(await balanceOf(server, a)).toBe(90);
  });

  it('two calls with one key in one HTTP batch execute once and answer identically', async () => {
    const a = await openAccount(server, 'A', 100);
    const b = await openAccount(server, 'B', 0);
    const input = { idempotencyKey: newKey(), fromAccountId: a, toAccountId: b, amount: 25 };
    const response = await read(
      await fetch(`${server.url}/transfers.create,transfers.create?batch=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-user-id': 'alice' },
        body: JSON.stringify({ 0: input, 1: input }),
      }),
    );
    expect(response.status).toBe(200);
    const [one, two] = response.body;
    expect(one.result.data.amount).toBe(25);
    expect(two).toEqual(one);
    expect(await balanceOf(server, a)).toBe(75);
    const listed = await read(await server.query('transfers.list', { accountId: a }));
    expect(listed.body.result.data).toEqual([one.result.data]);
    await server.waitForLog((line) => line.msg === 'joined' && line['path'] === 'transfers.create');
  });

  it('500 on a transient failure (database locked by another process); the retry with the key executes', async () => {
    const a = await openAccount(server, 'A', 100);
    const b = await openAccount(server, 'B', 0);
    const input = { idempotencyKey: newKey(), fromAccountId: a, toAccountId: b, amount: 1 };
    // SQLite: the write lock; Postgres: the payer's row lock.
    const lock = await holdWriteLock({ databaseUrl: server.databaseUrl, accountId: a });
    try {
      const failed = await read(await server.mutate('transfers.create', input));
      expect(failed.status).toBe(500);
      expect(failed.body.error.data.code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await lock.release();
    }
    const retried = await server.mutate('transfers.create', input);
    expect(retried.status).toBe(200);
    expect(await balanceOf(server, a)).toBe(99);
    await server.waitForLog((line) => line.level === 'error' && line.msg === 'request failed');
  });
});

/**
 * Tombstones through the real server process (SPEC 3.7, 7.10): a short
 * `IDEMPOTENCY_TTL_MS`, a long `IDEMPOTENCY_HORIZON_MS`; a transfer retried
 * after the TTL is answered, never run again.
 */
describe.each(DIALECTS)('ledger server tombstones on %s', (dialect) => {
  const TTL_MS = 300;
  const HORIZON_MS = 600_000;
  let server: LedgerServerProcess;
  beforeAll(async () => {
    server = await startLedgerServer({
      databaseUrl: await databases.create(dialect),
      env: { IDEMPOTENCY_TTL_MS: String(TTL_MS), IDEMPOTENCY_HORIZON_MS: String(HORIZON_MS) },
    });
  });
  afterAll(async () => {
    await server[Symbol.asyncDispose]();
  });

  it('tells its horizon, and answers a transfer retried after the TTL with IDEMPOTENCY_OUTCOME_EXPIRED: one transfer', async () => {
    const a = await openAccount(server, 'A', 100);
    const b = await openAccount(server, 'B', 0);
    const input = transferInput(a, b, 40);
    const before = Date.now();
    const first = await read(await server.mutate('transfers.create', input));
    const after = Date.now();
    expect(first.status).toBe(200);
    expect(first.headers.get('idempotency-horizon-ms')).toBe(String(HORIZON_MS));
    await new Promise((resolve) => setTimeout(resolve, TTL_MS + 50));

    const retried = await read(await server.mutate('transfers.create', input));
    expect(retried.status).toBe(404);
    expect(retried.headers.get('idempotency-horizon-ms')).toBe(String(HORIZON_MS));
    expect(retried.body.error.data).toMatchObject({
      code: 'NOT_FOUND',
      reason: 'IDEMPOTENCY_OUTCOME_EXPIRED',
      horizonMs: HORIZON_MS,
    });
    const { completedAt } = retried.body.error.data as { completedAt: number };
    expect(completedAt).toBeGreaterThanOrEqual(before);
    expect(completedAt).toBeLessThanOrEqual(after);
    expect(retried.body.error.message).toContain(new Date(completedAt).toISOString());
    const changed = await read(await server.mutate('transfers.create', { ...input, amount: 41 }));
    expect(changed.status).toBe(422);
    expect(await balanceOf(server, a)).toBe(60);
    expect(await balanceOf(server, b)).toBe(40);
  });
});
