import { createLedgerApp } from '@ledger/server';
import {
  answerOf,
  type LedgerServerProcess,
  newKey,
  readLedgerFile,
  seededRandom,
  startLedgerServer,
  tempSqliteFile,
} from '@ledger/testkit';
import { fingerprintInput } from 'trpc-idempotency';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type HostileFixture,
  type HostileRequest,
  hostileCatalogue,
} from '../src/hostile/catalogue';
import { send } from '../src/http';
import { openAccounts } from '../src/ledgerWorkload';
import { diffRecords, readRecords } from '../src/records';
import { clockSkewEnv, DEFAULT_HORIZON_MS, DEFAULT_TTL_MS } from '../src/serverClock';
import { report, seedFor } from '../src/strength';

function sendHostile(url: string, request: HostileRequest) {
  return send({
    url,
    path: request.path,
    method: request.method ?? 'POST',
    query: request.query,
    user: request.user === null ? undefined : (request.user ?? 'alice'),
    body: request.body,
    headers: request.headers,
  });
}

/**
 * The hostile-input catalogue against the real server process: each request
 * gets its documented answer, the server keeps serving, and the idempotency
 * records table (snapshotted before and after each request) changes only as
 * documented — mostly not at all.
 */
describe(`hostile input: ${hostileCatalogue.length} bad requests, each with its documented answer`, () => {
  const database = tempSqliteFile('reliability-hostile');
  const databaseFile = database.file;
  let server: LedgerServerProcess;
  let fixture: HostileFixture;
  const statuses: Record<string, number> = {};

  beforeAll(async () => {
    server = await startLedgerServer({ databaseFile });
    const random = seededRandom(seedFor('hostile'));
    const open = async (balance: number) =>
      (await openAccounts({ url: () => server.url, count: 1, balance, random }))[0]!;
    const payer = await open(1000);
    const payee = await open(0);
    const paidKey = newKey('hostile');
    const paid = await send({
      url: server.url,
      path: 'transfers.create',
      user: 'alice',
      body: JSON.stringify({
        idempotencyKey: paidKey,
        fromAccountId: payer,
        toAccountId: payee,
        amount: 100,
      }),
    });
    expect(paid.status).toBe(200);
    fixture = { payer, payee, paidKey, freshKey: () => newKey('hostile') };
  });
  afterAll(async () => {
    await server?.[Symbol.asyncDispose]();
    database[Symbol.dispose]();
    report('hostile', { cases: hostileCatalogue.length, statuses });
  });

  for (const hostile of hostileCatalogue) {
    it(`${hostile.name} → ${hostile.expect.status} (${hostile.documented})`, async () => {
      const request = hostile.request(fixture);
      const recordsBefore = readRecords(databaseFile);
      const ledgerBefore = readLedgerFile(databaseFile);

      const response = await sendHostile(server.url, request);
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      expect(response.status).toBe(hostile.expect.status);
      if (hostile.expect.items) {
        const items = (response.json as unknown[]).map((envelope) => {
          const status =
            (envelope as { error?: { data?: { httpStatus?: number } } }).error?.data?.httpStatus ??
            200;
          return answerOf(status, envelope)!;
        });
        expect(items).toMatchObject(hostile.expect.items);
      } else if (hostile.expect.code !== undefined) {
        const answer = answerOf(response.status, response.json);
        expect(answer?.code).toBe(hostile.expect.code);
        if (hostile.expect.reason === null) expect(answer?.reason).toBeUndefined();
        else if (hostile.expect.reason) expect(answer?.reason).toBe(hostile.expect.reason);
        if (hostile.expect.message) {
          expect(JSON.parse(answer!.body).message).toMatch(hostile.expect.message);
        }
      }

      // The server keeps serving.
      const health = await send({ url: server.url, path: 'health', method: 'GET' });
      expect(health.status).toBe(200);

      // Records change only as documented; the stored ones stay untouched.
      const changes = diffRecords(recordsBefore, readRecords(databaseFile)).map((change) => ({
        change: change.change,
        scope: change.scope,
        key: change.key,
        outcomeKind:
          change.change === 'removed' ? change.before.outcomeKind : change.after.outcomeKind,
      }));
      expect(changes).toEqual(hostile.records?.(fixture, request) ?? []);
      const ledgerAfter = readLedgerFile(databaseFile);
      expect(ledgerAfter.transfers.length - ledgerBefore.transfers.length).toBe(
        hostile.effects?.transfers ?? 0,
      );
      expect(ledgerAfter.accounts.length - ledgerBefore.accounts.length).toBe(
        hostile.effects?.accounts ?? 0,
      );
    });
  }

  it('replays the first answer to the same input with its fields in another order', async () => {
    const before = readRecords(databaseFile);
    const first = await sendHostile(server.url, {
      path: 'transfers.create',
      body: JSON.stringify({
        idempotencyKey: fixture.paidKey,
        fromAccountId: fixture.payer,
        toAccountId: fixture.payee,
        amount: 100,
      }),
    });
    const reordered = await sendHostile(server.url, {
      path: 'transfers.create',
      body: JSON.stringify({
        amount: 100,
        toAccountId: fixture.payee,
        fromAccountId: fixture.payer,
        idempotencyKey: fixture.paidKey,
      }),
    });
    // A duplicated field counts once, as JSON.parse reads it: the last one wins for fingerprint and handler alike.
    const duplicated = await sendHostile(server.url, {
      path: 'transfers.create',
      body: `{"idempotencyKey":"${fixture.paidKey}","fromAccountId":"${fixture.payer}","toAccountId":"${fixture.payee}","amount":5,"amount":100}`,
    });
    expect(first.status).toBe(200);
    expect(reordered.text).toBe(first.text);
    expect(duplicated.text).toBe(first.text);
    expect(diffRecords(before, readRecords(databaseFile))).toEqual([]);
  });

  /**
   * F2 (server, fixed). Without `maxBatchSize` one HTTP request could carry as
   * many mutations as fit in 1 MiB (about 12 000 account openings), each
   * claimed, executed and committed: a cheap way to make the server do a lot
   * of work for one request. The server now passes tRPC's `maxBatchSize`
   * (`TRPC_MAX_BATCH_SIZE`, default 100): a larger batch gets a 400 "Batch
   * call exceeds maximum size" before any of its calls runs.
   */
  it('F2: refuses an oversized batch (1000 mutations in one request) with 400, executing none', async () => {
    const calls = 1000;
    const before = readRecords(databaseFile).length;
    const response = await sendHostile(server.url, {
      path: Array(calls).fill('accounts.open').join(','),
      query: '?batch=1',
      body: JSON.stringify(
        Object.fromEntries(
          Array.from({ length: calls }, (_, i) => [
            i,
            { idempotencyKey: newKey('hostile'), owner: `Batch ${i}`, initialBalance: 0 },
          ]),
        ),
      ),
    });
    const added = readRecords(databaseFile).length - before;
    expect({ status: response.status, added }).toEqual({ status: 400, added: 0 });
    expect(answerOf(response.status, response.json)?.body).toMatch(
      /Batch call exceeds maximum size/,
    );
  });

  /**
   * F3 (server, fixed). A string with a lone surrogate (`"a\ud800b"`) passed
   * `z.string()`; the response (and the stored replay) said `a\ud800b`, but
   * SQLite stores UTF-8, so the account held `a\ufffd…b`: the stored outcome
   * and the ledger disagreed. Every string input of the server is now refused
   * when ill-formed (400, invalid input): nothing stored, the key stays free.
   */
  it('F3: an owner with a lone surrogate is refused (400, invalid input): nothing stored, the key stays free', async () => {
    const idempotencyKey = newKey('hostile');
    const recordsBefore = readRecords(databaseFile);
    const accountsBefore = readLedgerFile(databaseFile).accounts.length;
    const response = await sendHostile(server.url, {
      path: 'accounts.open',
      body: JSON.stringify({ idempotencyKey, owner: 'a\ud800b', initialBalance: 0 }),
    });
    expect(response.status).toBe(400);
    const refused = answerOf(response.status, response.json);
    expect(refused?.code).toBe('BAD_REQUEST');
    expect(refused?.reason).toBeUndefined();
    expect(JSON.parse(refused!.body).message).toMatch(/owner: .*lone surrogate/);
    expect(diffRecords(recordsBefore, readRecords(databaseFile))).toEqual([]);
    expect(readLedgerFile(databaseFile).accounts.length).toBe(accountsBefore);

    // The corrected request uses the same key, and the account holds what the answer says.
    const corrected = await sendHostile(server.url, {
      path: 'accounts.open',
      body: JSON.stringify({ idempotencyKey, owner: 'a\ud83d\ude00b', initialBalance: 0 }),
    });
    const opened = JSON.parse(answerOf(corrected.status, corrected.json)!.body) as {
      id: string;
      owner: string;
    };
    expect(opened.owner).toBe('a😀b');
    const read = await send({
      url: server.url,
      path: 'accounts.get',
      method: 'GET',
      query: `?input=${encodeURIComponent(JSON.stringify({ id: opened.id }))}`,
    });
    expect(JSON.parse(answerOf(read.status, read.json)!.body).owner).toBe(opened.owner);
    expect(
      readLedgerFile(databaseFile).accounts.find((account) => account.id === opened.id),
    ).toMatchObject({ owner: 'a😀b' });
  });

  it('keeps serving with no 5xx and nothing logged as failed across the catalogue', async () => {
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
    expect(Object.keys(statuses).filter((status) => Number(status) >= 500)).toEqual([]);
    expect((await send({ url: server.url, path: 'health', method: 'GET' })).status).toBe(200);
  });

  it('keeps a key bound past its TTL (a tombstone), and frees it after its horizon: the same key with another input executes anew', async () => {
    const before = readRecords(databaseFile).find(
      (row) => row.scope === 'alice' && row.key === fixture.paidKey,
    )!;
    const transfersBefore = readLedgerFile(databaseFile).transfers.length;
    const otherInput = {
      path: 'transfers.create',
      body: JSON.stringify({
        idempotencyKey: fixture.paidKey,
        fromAccountId: fixture.payer,
        toAccountId: fixture.payee,
        amount: 7,
      }),
    };
    await server.stop('SIGTERM');
    // The same file, one TTL (and a minute) later: the key is a tombstone, still bound to its input.
    server = await startLedgerServer({
      databaseFile,
      env: clockSkewEnv(DEFAULT_TTL_MS + 60_000),
    });
    const tombstoned = await sendHostile(server.url, otherInput);
    expect(tombstoned.status).toBe(422);
    expect(server.events('executed')).toEqual([]);
    await server.stop('SIGTERM');
    // One horizon (and a minute) later: the key is free.
    server = await startLedgerServer({
      databaseFile,
      env: clockSkewEnv(DEFAULT_HORIZON_MS + 60_000),
    });
    const response = await sendHostile(server.url, otherInput);
    expect(answerOf(response.status, response.json)).toMatchObject({ status: 200, kind: 'result' });
    expect(server.events('executed')).toMatchObject([{ path: 'transfers.create', attempt: 1 }]);
    const after = readRecords(databaseFile).find(
      (row) => row.scope === 'alice' && row.key === fixture.paidKey,
    )!;
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(after.attempt).toBe(1);
    expect(after.expiresAtMs).toBeGreaterThan(before.expiresAtMs);
    expect(readLedgerFile(databaseFile).transfers.length).toBe(transfersBefore + 1);
  });
});

/**
 * Keys named `__proto__` and `constructor` in the input: the fingerprint tells
 * them apart (it is not fooled into equating inputs) and nothing is polluted.
 * In this process, so its own prototypes can be inspected.
 */
describe('hostile input: __proto__ and constructor keys neither fool the fingerprint nor pollute', () => {
  const parsed = (text: string) => JSON.parse(text) as unknown;

  it('fingerprints inputs that differ only in __proto__ or constructor differently', () => {
    const plain = fingerprintInput(parsed('{"amount":1}'));
    const withProto = fingerprintInput(parsed('{"amount":1,"__proto__":{"amount":2}}'));
    const otherProto = fingerprintInput(parsed('{"amount":1,"__proto__":{"amount":3}}'));
    const emptyProto = fingerprintInput(parsed('{"amount":1,"__proto__":{}}'));
    const withConstructor = fingerprintInput(
      parsed('{"amount":1,"constructor":{"prototype":{"x":1}}}'),
    );
    expect(new Set([plain, withProto, otherProto, emptyProto, withConstructor]).size).toBe(5);
    // Order-independent, also for those keys.
    expect(fingerprintInput(parsed('{"__proto__":{"b":1,"a":2},"amount":1}'))).toBe(
      fingerprintInput(parsed('{"amount":1,"__proto__":{"a":2,"b":1}}')),
    );
    // And the key itself is never part of it.
    expect(fingerprintInput(parsed('{"amount":1,"idempotencyKey":"one-key-0000000001"}'))).toBe(
      plain,
    );
  });

  it('serves __proto__ / constructor payloads over HTTP without polluting any prototype', async () => {
    using database = tempSqliteFile('reliability-pollution');
    const app = createLedgerApp({ databaseUrl: database.url });
    try {
      const { url } = await app.listen({ port: 0, host: '127.0.0.1' });
      const post = (path: string, body: string) => send({ url, path, user: 'alice', body });
      const opened = await post(
        'accounts.open',
        `{"__proto__":{"polluted":"yes","initialBalance":999},"constructor":{"prototype":{"polluted":"yes"}},"idempotencyKey":"${newKey('hostile')}","owner":"Proto","initialBalance":5}`,
      );
      expect(answerOf(opened.status, opened.json)).toMatchObject({ status: 200, kind: 'result' });
      // The handler read its own field, not one smuggled in through __proto__.
      expect(JSON.parse(answerOf(opened.status, opened.json)!.body)).toMatchObject({ balance: 5 });
      const batch = await post(
        'accounts.open,accounts.open?batch=1',
        `{"0":{"__proto__":{"isAdmin":true},"idempotencyKey":"${newKey('hostile')}","owner":"A","initialBalance":1},"1":{"constructor":{"prototype":{"isAdmin":true}},"idempotencyKey":"${newKey('hostile')}","owner":"B","initialBalance":1}}`,
      );
      expect(batch.status).toBe(200);
      const probe = {} as Record<string, unknown>;
      expect(probe['polluted']).toBeUndefined();
      expect(probe['isAdmin']).toBeUndefined();
      expect(Object.prototype).not.toHaveProperty('polluted');
      expect(Object.prototype).not.toHaveProperty('isAdmin');
      expect(Object.prototype).not.toHaveProperty('initialBalance');
    } finally {
      await app.close();
    }
  });
});
