import {
  checkTransferRun,
  readLedger,
  seededRandom,
  startFaultProxy,
  startLatencyProxy,
  startLedgerServer,
} from '@ledger/testkit';
import { describe, expect, it } from 'vitest';
import { openAccounts, summarizeCalls, transferClients, transferPlan } from '../src/ledgerWorkload';
import { replayCalls } from '../src/replay';
import { byStrength, report, seedFor } from '../src/strength';

const ACCOUNTS = 8;
const BALANCE = 1000;

/**
 * Clients → latency proxy (seeded delays, some longer than the clients'
 * attempt timeout) → fault proxy (seeded: responses dropped after the server
 * answered, connections reset before forwarding, 502s) → the real ledger
 * server. Every call must converge to one effect and one response.
 */
describe('network chaos: lost responses, resets, 502s and delays under concurrent load', () => {
  const calls = byStrength({ small: 120, full: 2000 });
  const workers = byStrength({ small: 8, full: 24 });
  const faultRate = 0.5;

  it(`${calls} transfers by ${workers} clients at a ${faultRate} fault rate: one effect and one response each`, {
    timeout: byStrength({ small: 60_000, full: 600_000 }),
  }, async () => {
    const seed = seedFor('network');
    const started = performance.now();
    await using server = await startLedgerServer({ env: { LEDGER_TRANSFER_DELAY_MS: '150' } });
    await using faults = await startFaultProxy({
      target: new URL(server.url).origin,
      faultRate,
      seed,
    });
    await using latency = await startLatencyProxy({
      target: faults.url,
      rate: 0.15,
      maxDelayMs: 1500,
      seed: seed + 1,
    });
    const url = () => `${latency.url}/trpc`;
    const accounts = await openAccounts({
      url,
      count: ACCOUNTS,
      balance: BALANCE,
      random: seededRandom(seed + 2),
    });
    const clients = transferClients({
      url,
      workers,
      next: transferPlan({ accounts, seed, maxAmount: 300 }),
      seed: seed + 3,
      // Shorter than the longest delay: some attempts are abandoned while still on their way.
      attemptTimeoutMs: 1000,
      maxCalls: calls,
    });
    await clients.done;
    const observed = clients.calls;

    const of = (type: string) =>
      server.events(type).filter((event) => event['path'] === 'transfers.create').length;
    const duringChaos = {
      replayed: of('replayed'),
      joined: of('joined'),
      conflicts: of('conflict'),
    };
    expect(observed).toHaveLength(calls);
    expect(await replayCalls({ url: server.url, calls: observed })).toEqual([]);
    const executed = server
      .events('executed')
      .filter((event) => event['path'] === 'transfers.create');
    // Each key executed once: lost responses and abandoned attempts were replayed or joined.
    expect(executed).toHaveLength(calls);
    expect(server.events('fenced')).toEqual([]);
    await server.stop('SIGTERM');
    expect(
      checkTransferRun({
        snapshot: await readLedger(server.databaseUrl),
        openingTotal: ACCOUNTS * BALANCE,
        transfers: observed,
      }),
    ).toEqual([]);

    expect(faults.stats.faults.lostResponse).toBeGreaterThan(0);
    expect(duringChaos.replayed).toBeGreaterThan(0);
    report('network', {
      seed,
      workers,
      faultRate,
      ...summarizeCalls(observed),
      faults: faults.stats.faults,
      forwarded: faults.stats.forwarded,
      delayed: {
        requests: latency.stats.delayedRequests,
        responses: latency.stats.delayedResponses,
      },
      server: { executed: executed.length, ...duringChaos },
      seconds: Math.round((performance.now() - started) / 100) / 10,
    });
  });
});
