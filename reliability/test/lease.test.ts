import { randomUUID } from 'node:crypto';
import {
  answerOf,
  auditLedger,
  readLedgerFile,
  seededRandom,
  startFakeGateway,
  startLedgerServer,
  tempSqliteFile,
  waitForInFlight,
} from '@ledger/testkit';
import { describe, expect, it } from 'vitest';
import { postUntilFinal, send } from '../src/http';
import { openAccounts } from '../src/ledgerWorkload';
import { runPool, sleep, waitStopped, waitUntil } from '../src/pool';
import { type RecordRow, readRecords } from '../src/records';
import { startService } from '../src/serviceProcess';
import { byStrength, report, seedFor } from '../src/strength';

const LEASE_MS = 1500;
const WAIT_MS = 300;

/**
 * A records file of its own, the fake gateway, and the lease server's
 * environment on both (`env` over the defaults); `start()` spawns a lease
 * server on them. `await using` closes the gateway and removes the file.
 */
async function leaseSetup(env: Record<string, string> = {}) {
  const database = tempSqliteFile('reliability-lease');
  const gateway = await startFakeGateway({ idPrefix: 'ch' });
  const serviceEnv = {
    DATABASE_FILE: database.file,
    GATEWAY_URL: gateway.url,
    LEASE_MS: String(LEASE_MS),
    WAIT_MS: String(WAIT_MS),
    ...env,
  };
  return {
    database,
    gateway,
    start: () => startService({ script: 'src/leaseServer.ts', env: serviceEnv }),
    async [Symbol.asyncDispose]() {
      await gateway.close();
      database[Symbol.dispose]();
    },
  };
}

function recordOf(file: string, key: string, scope = 'alice'): RecordRow | undefined {
  return readRecords(file).find((row) => row.scope === scope && row.key === key);
}

interface Charge {
  chargeId: string;
  amount: number;
  attempt: number;
  servedBy: number;
}

/**
 * Lease mode (SPEC 3.4, 5.4) with real processes: `src/leaseServer.ts` charges a
 * fake gateway with `ctx.idempotency.downstreamKey`, its records on a SQLite file.
 */
describe('lease mode: crashed owners are taken over, zombies are fenced; a late transactional commit replays', () => {
  it('takes over an owner SIGKILLed mid-handler after its lease: attempt 2, same downstream key', async () => {
    // A lease longer than the others: the second process starts well within it.
    await using lease = await leaseSetup({ LEASE_MS: String(2 * LEASE_MS) });
    const { database, gateway } = lease;
    await using first = await lease.start();
    // Killed after the gateway took the charge, before the handler returned.
    gateway.onCall(() => first.signal('SIGKILL'));
    const idempotencyKey = `charge-${randomUUID()}`;
    const body = JSON.stringify({ idempotencyKey, amount: 2500 });
    const lost = await send({ url: first.url, path: 'charges.create', user: 'alice', body }).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(lost).toBeInstanceOf(Error);
    const orphan = recordOf(database.file, idempotencyKey);
    expect(orphan).toMatchObject({ state: 'in_progress', attempt: 1 });
    gateway.onCall(undefined);

    await using second = await lease.start();
    // Within the dead owner's lease, the key is someone else's: 409, retry later.
    const withinLease = Date.now() + WAIT_MS + 1200 < orphan!.leaseExpiresAtMs;
    if (withinLease) {
      const early = await send({ url: second.url, path: 'charges.create', user: 'alice', body });
      expect(answerOf(early.status, early.json)).toMatchObject({
        status: 409,
        reason: 'IDEMPOTENCY_IN_PROGRESS',
      });
    }
    const { final } = await postUntilFinal({
      url: () => second.url,
      path: 'charges.create',
      user: 'alice',
      input: { idempotencyKey, amount: 2500 },
      random: seededRandom(seedFor('lease takeover')),
    });
    expect(final.status).toBe(200);
    const charge = JSON.parse(final.body) as Charge;
    expect(charge).toEqual({ chargeId: 'ch_1', amount: 2500, attempt: 2, servedBy: second.pid });

    expect(recordOf(database.file, idempotencyKey)).toMatchObject({
      state: 'completed',
      attempt: 2,
      response: final.body,
    });
    expect(second.events('executed')).toMatchObject([{ takenOver: true, attempt: 2 }]);
    // The gateway was asked twice, with one downstream key, and charged once.
    expect(gateway.calls.map(({ body, pid }) => ({ attempt: body['attempt'], pid }))).toEqual([
      { attempt: 1, pid: first.pid },
      { attempt: 2, pid: second.pid },
    ]);
    expect(new Set(gateway.calls.map((call) => call.downstreamKey)).size).toBe(1);
    expect(gateway.payments.length).toBe(1);
    // And every later retry replays the rescuer's answer.
    const replay = await send({ url: second.url, path: 'charges.create', user: 'alice', body });
    expect(answerOf(replay.status, replay.json)?.body).toBe(final.body);
    report('lease-takeover', {
      refusedWithinLease: withinLease,
      gatewayCalls: gateway.calls.length,
    });
  });

  const keys = byStrength({ small: 8, full: 40 });
  const kills = byStrength({ small: 3, full: 12 });
  it(`${keys} concurrent charges, ${kills} SIGKILLs mid-handler: one charge per key, one completed record`, {
    timeout: byStrength({ small: 60_000, full: 300_000 }),
  }, async () => {
    const seed = seedFor('lease storm');
    const random = seededRandom(seed);
    // Handlers linger after charging: a kill lands mid-handler.
    await using lease = await leaseSetup({ HOLD_MS: '150' });
    const { database, gateway } = lease;
    const generations = [await lease.start()];
    const current = () => generations.at(-1)!;
    try {
      const planned = Array.from({ length: keys }, (_, i) => ({
        idempotencyKey: `charge-${seed}-${i.toString().padStart(4, '0')}`,
        amount: 100 + i,
      }));
      const calls = runPool(planned, keys, (input, i) =>
        postUntilFinal({
          url: () => current().url,
          path: 'charges.create',
          user: 'alice',
          input,
          random: seededRandom(seed + i + 1),
        }),
      );
      for (let kill = 0; kill < kills; kill++) {
        const seen = gateway.calls.length;
        await waitUntil('the gateway is charged again', () =>
          gateway.calls.length > seen ? true : undefined,
        );
        await sleep(Math.floor(random() * 100));
        await current().signal('SIGKILL');
        generations.push(await lease.start());
      }
      const results = await calls;

      const records = new Map(readRecords(database.file).map((row) => [row.key, row]));
      const chargeIds = new Set<string>();
      for (const [i, result] of results.entries()) {
        const { idempotencyKey, amount } = planned[i]!;
        expect(result.final.status, idempotencyKey).toBe(200);
        expect(new Set(result.successes).size).toBe(1);
        const charge = JSON.parse(result.final.body) as Charge;
        expect(charge.amount).toBe(amount);
        chargeIds.add(charge.chargeId);
        const record = records.get(idempotencyKey);
        expect(record).toMatchObject({ state: 'completed', response: result.final.body });
        expect(charge.attempt).toBe(record!.attempt);
        // Every execution of this key charged with one downstream key, at most once each.
        const { downstreamKey } = gateway.payment(charge.chargeId)!;
        const charged = gateway.calls.filter((call) => call.downstreamKey === downstreamKey);
        expect(charged.length).toBeLessThanOrEqual(record!.attempt);
        expect(charged.every((call) => call.amount === amount)).toBe(true);
      }
      // One charge per key: as many downstream keys as keys, and no key charged under two.
      expect(chargeIds.size).toBe(keys);
      expect(gateway.payments.length).toBe(keys);
      const executed = generations.flatMap((generation) => generation.events('executed'));
      expect(executed.length).toBe(keys);
      const takenOver = [...records.values()].filter((record) => record.attempt > 1).length;
      expect(takenOver).toBeGreaterThan(0);
      report('lease-crash', {
        seed,
        keys,
        kills,
        gatewayCalls: gateway.calls.length,
        charges: gateway.payments.length,
        keysTakenOver: takenOver,
        maxAttempt: Math.max(...[...records.values()].map((record) => record.attempt)),
        httpAttempts: results.reduce((sum, result) => sum + result.attempts, 0),
      });
    } finally {
      for (const generation of generations) await generation[Symbol.asyncDispose]();
    }
  });

  it('fences a zombie: SIGSTOPped past its lease, taken over, its late completion is refused', async () => {
    await using lease = await leaseSetup();
    const { database, gateway } = lease;
    await using zombie = await lease.start();
    await using rescuer = await lease.start();
    let frozen = false;
    // Frozen after the gateway took its charge, before its answer arrives.
    gateway.onCall(async (call) => {
      if (call.pid !== zombie.pid || frozen) return;
      await zombie.signal('SIGSTOP');
      // Stopped before its answer is sent, so it cannot complete before it is taken over.
      await waitStopped(zombie.pid);
      frozen = true;
    });
    const idempotencyKey = `charge-${randomUUID()}`;
    const body = JSON.stringify({ idempotencyKey, amount: 700 });
    const zombieCall = send({
      url: zombie.url,
      path: 'charges.create',
      user: 'alice',
      body,
      timeoutMs: 60_000,
    });
    await waitUntil('the zombie is frozen', () => (frozen ? true : undefined));
    const claimed = recordOf(database.file, idempotencyKey)!;
    expect(claimed).toMatchObject({ state: 'in_progress', attempt: 1 });
    await waitUntil(
      'its lease is over',
      () => (Date.now() > claimed.leaseExpiresAtMs ? true : undefined),
      {
        timeoutMs: LEASE_MS * 3,
      },
    );

    const rescued = await send({ url: rescuer.url, path: 'charges.create', user: 'alice', body });
    const rescuedAnswer = answerOf(rescued.status, rescued.json)!;
    expect(rescuedAnswer.status).toBe(200);
    expect(JSON.parse(rescuedAnswer.body)).toMatchObject({ attempt: 2, servedBy: rescuer.pid });
    expect(rescuer.events('executed')).toMatchObject([{ takenOver: true, attempt: 2 }]);

    await zombie.signal('SIGCONT');
    const late = await zombieCall;
    expect(answerOf(late.status, late.json)).toMatchObject({
      status: 409,
      code: 'CONFLICT',
      reason: 'IDEMPOTENCY_IN_PROGRESS',
    });
    expect(zombie.events('fenced')).toMatchObject([{ attempt: 1 }]);
    // The stored outcome is the new owner's, and the zombie now replays it too.
    expect(recordOf(database.file, idempotencyKey)).toMatchObject({
      state: 'completed',
      attempt: 2,
      response: rescuedAnswer.body,
    });
    const retried = await send({ url: zombie.url, path: 'charges.create', user: 'alice', body });
    expect(answerOf(retried.status, retried.json)?.body).toBe(rescuedAnswer.body);
    expect(gateway.calls.map((call) => call.pid)).toEqual([zombie.pid, rescuer.pid]);
    expect(new Set(gateway.calls.map((call) => call.downstreamKey)).size).toBe(1);
    expect(gateway.payments.length).toBe(1);
  });

  it("a frozen transactional execution commits late: it finds the retry's record completed and replays it, its writes never applied", async () => {
    using database = tempSqliteFile('reliability-ledger-late');
    const databaseFile = database.file;
    await using late = await startLedgerServer({
      databaseFile,
      env: { LEDGER_TRANSFER_DELAY_MS: '1500' },
    });
    const random = seededRandom(seedFor('transactional late commit'));
    const [from, to] = await openAccounts({
      url: () => late.url,
      count: 2,
      balance: 1000,
      random,
    });
    const idempotencyKey = `transfer-${randomUUID()}`;
    const input = { idempotencyKey, fromAccountId: from!, toAccountId: to!, amount: 100 };
    const body = JSON.stringify(input);
    const lateCall = send({
      url: late.url,
      path: 'transfers.create',
      user: 'alice',
      body,
      timeoutMs: 60_000,
    });
    // Frozen in its pause between preparation and commit: nothing is written before the
    // commit, so the key is free, with no lease to wait for.
    await waitForInFlight({ url: late.url }, 1);
    process.kill(late.pid, 'SIGSTOP');
    await waitStopped(late.pid);
    expect(recordOf(databaseFile, idempotencyKey)).toBeUndefined();

    await using retrier = await startLedgerServer({ databaseFile });
    const { final } = await postUntilFinal({
      url: () => retrier.url,
      path: 'transfers.create',
      user: 'alice',
      input,
      random,
    });
    expect(final.status).toBe(200);
    expect(retrier.events('executed')).toMatchObject([
      { path: 'transfers.create', attempt: 1, takenOver: false },
    ]);

    // Thawed, the frozen execution commits: the store finds the key completed first, its
    // writes are not applied, and its client gets the stored answer, as a replay would.
    process.kill(late.pid, 'SIGCONT');
    const lateAnswer = await lateCall;
    expect(answerOf(lateAnswer.status, lateAnswer.json)).toMatchObject({
      status: 200,
      body: final.body,
    });
    expect(late.events('replayed')).toMatchObject([
      { path: 'transfers.create', outcome: 'result' },
    ]);
    expect(late.events('executed').filter((event) => event['path'] === 'transfers.create')).toEqual(
      [],
    );

    await late.stop('SIGTERM');
    await retrier.stop('SIGTERM');
    const ledger = readLedgerFile(databaseFile);
    expect(auditLedger(ledger)).toEqual([]);
    // One transfer, the money moved once.
    expect(ledger.transfers).toHaveLength(1);
    expect(ledger.accounts.map((account) => account.balance)).toEqual([900, 1100]);
    expect(recordOf(databaseFile, idempotencyKey)).toMatchObject({
      state: 'completed',
      attempt: 1,
      response: final.body,
    });
    report('transactional-late-commit', {
      pauseMs: 1500,
      lateAnswer: late.events('replayed').length === 1 ? 'replayed' : 'other',
    });
  });
});
