import {
  auditLedger,
  newKey,
  readLedger,
  startFakeGateway,
  startLedgerServer,
} from '@ledger/testkit';
import { DIALECTS, useFreshDatabases } from '@ledger/testkit/databases';
import { openIdempotencyAdmin } from 'trpc-idempotency/admin';
import { describe, expect, it } from 'vitest';
import type { PayoutPausePoint } from '../src/payouts';

const databases = useFreshDatabases();

describe.each(DIALECTS)('payouts.create across crashes on %s (server processes)', (dialect) => {
  it('a take-over resumes after the finished steps: killed inside pay, then after pay', async () => {
    await using gateway = await startFakeGateway();
    const databaseUrl = await databases.create(dialect);
    /** A server process on the database, pausing a minute at `pauseAt` (to be killed there). */
    const start = (pauseAt?: PayoutPausePoint) =>
      startLedgerServer({
        databaseUrl,
        env: {
          PAYOUT_GATEWAY_URL: gateway.url,
          IDEMPOTENCY_LEASE_MS: '1000',
          ...(pauseAt ? { LEDGER_PAYOUT_DELAY_MS: '60000', LEDGER_PAYOUT_DELAY_AT: pauseAt } : {}),
        },
      });
    const idempotencyKey = newKey('payout');
    const inspect = async () => {
      const admin = await openIdempotencyAdmin(databaseUrl);
      try {
        const record = await admin.inspect({ scope: 'alice', key: idempotencyKey });
        return { ...record, steps: record?.steps.map((step) => step.name) };
      } finally {
        await admin.close();
      }
    };

    // Attempt 1 is killed inside `pay`: the gateway paid, the step's result was never stored.
    await using first = await start('in-pay');
    const opened = await first.mutate('accounts.open', {
      idempotencyKey: newKey(),
      owner: 'A',
      initialBalance: 1000,
    });
    const accountId = ((await opened.json()) as { result: { data: { id: string } } }).result.data
      .id;
    const input = { idempotencyKey, accountId, amount: 400 };
    const lost = first.mutate('payouts.create', input).catch((error: Error) => error);
    await first.waitForLog((line) => line.msg === 'payout paused' && line['point'] === 'in-pay');
    await first.stop('SIGKILL');
    expect(await lost).toBeInstanceOf(Error);
    expect(await inspect()).toMatchObject({ state: 'in_progress', attempt: 1, steps: ['reserve'] });
    expect(gateway.calls).toHaveLength(1);

    // Attempt 2 takes over once the lease is over, skips `reserve`, pays again with the same
    // key (a no-op at the gateway), and is killed after `pay` was stored.
    await using second = await start('after-pay');
    const lostAgain = second.mutate('payouts.create', input).catch((error: Error) => error);
    const paused = await second.waitForLog(
      (line) => line.msg === 'payout paused' && line['point'] === 'after-pay',
    );
    expect(paused['attempt']).toBe(2);
    await second.stop('SIGKILL');
    expect(await lostAgain).toBeInstanceOf(Error);
    expect(await inspect()).toMatchObject({
      state: 'in_progress',
      attempt: 2,
      steps: ['reserve', 'pay'],
    });
    expect(gateway.calls.map((call) => call.repeated)).toEqual([false, true]);

    // Attempt 3 skips both finished steps and runs only `record`.
    await using third = await start();
    const answered = await third.mutate('payouts.create', input);
    expect(answered.status).toBe(200);
    const payout = ((await answered.json()) as { result: { data: Record<string, unknown> } }).result
      .data;
    expect(payout).toMatchObject({ accountId, amount: 400, gatewayPayoutId: 'gp_1' });
    expect(third.events('executed').filter((event) => event['path'] === 'payouts.create')).toEqual([
      expect.objectContaining({
        attempt: 3,
        takenOver: true,
        stepsSkipped: ['reserve', 'pay'],
        stepsRun: ['record'],
      }),
    ]);
    const metrics = await (await fetch(new URL('/metrics', third.url))).text();
    for (const sample of [
      'idempotency_steps_total{idempotency_path="payouts.create",idempotency_step_name="reserve",idempotency_step_outcome="skipped"} 1',
      'idempotency_steps_total{idempotency_path="payouts.create",idempotency_step_name="pay",idempotency_step_outcome="skipped"} 1',
      'idempotency_steps_total{idempotency_path="payouts.create",idempotency_step_name="record",idempotency_step_outcome="ran"} 1',
      'idempotency_events_total{idempotency_outcome="taken_over",idempotency_path="payouts.create"} 1',
    ]) {
      expect(metrics).toContain(sample);
    }
    // Two gateway calls with one key, one payment; one hold, one payout, the money moved once.
    expect(new Set(gateway.calls.map((call) => call.downstreamKey)).size).toBe(1);
    expect(gateway.payments).toHaveLength(1);
    const replay = await third.mutate('payouts.create', input);
    expect(((await replay.json()) as { result: { data: unknown } }).result.data).toEqual(payout);
    await third.stop('SIGTERM');
    const state = await readLedger(databaseUrl);
    expect(state.holds).toMatchObject([{ amount: 400, state: 'settled' }]);
    expect(state.payouts).toHaveLength(1);
    expect(state.accounts.map((account) => account.balance)).toEqual([600]);
    expect(auditLedger(state)).toEqual([]);
  });
});
