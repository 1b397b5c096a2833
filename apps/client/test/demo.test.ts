import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli';
import { checkLedger, DEFAULT_DEMO_OPTIONS, type Landed, runDemo } from '../src/runDemo';

describe('the demo', () => {
  it('`ledger demo` lands every transfer exactly once through the faulty proxy (exit 0)', async () => {
    let stdout = '';
    const code = await runCli(
      ['demo', '--transfers', '60', '--fault-rate', '0.3', '--seed', '11', '--concurrency', '6'],
      { stdout: { write: (text: string) => (stdout += text) }, stderr: process.stderr, env: {} },
    );
    expect(stdout).toContain('All checks passed: every transfer landed exactly once.');
    expect(code).toBe(0);
    // Not a terminal: plain progress lines, no redrawing.
    expect(stdout).not.toContain('\r');
    expect(stdout).toMatch(/^ {2}60\/60 transfers · \d+ calls retried · \d+ faults injected$/m);
  });

  it('reports its figures, and redraws one progress line on a terminal', async () => {
    let stdout = '';
    const report = await runDemo(
      { ...DEFAULT_DEMO_OPTIONS, transfers: 30, faultRate: 0.5, seed: 2, concurrency: 4 },
      { write: (text: string) => (stdout += text), isTTY: true },
    );
    expect(report.problems).toEqual([]);
    const faults = Object.values(report.faults).reduce((a, b) => a + b, 0);
    expect(faults).toBeGreaterThan(0);
    expect(report.callsRetried).toBeGreaterThan(0);
    expect(report.attempts).toBeGreaterThan(report.calls);
    expect(report.transfers.succeeded + report.transfers.refused).toBe(30);
    expect(report.server.executed).toBe(30);
    expect(stdout).toContain('\r\x1b[K  30/30 transfers');
  });

  it('finds discrepancies: a wrong balance, a missing or extra transfer, money not conserved', async () => {
    const landed: Landed[] = [
      { id: 'tr_1', fromAccountId: 'acc_a', toAccountId: 'acc_b', amount: 10 },
      { id: 'tr_2', fromAccountId: 'acc_b', toAccountId: 'acc_a', amount: 5 },
    ];
    const server = {
      balances: new Map([
        ['acc_a', 95],
        ['acc_b', 110],
      ]),
      transfers: [
        landed[0]!,
        { id: 'tr_3', fromAccountId: 'acc_a', toAccountId: 'acc_b', amount: 5 },
      ],
    };
    const direct = {
      accounts: {
        get: { query: async ({ id }: { id: string }) => ({ balance: server.balances.get(id)! }) },
      },
      transfers: {
        list: {
          query: async ({ accountId }: { accountId: string }) =>
            server.transfers.filter(
              (t) => t.fromAccountId === accountId || t.toAccountId === accountId,
            ),
        },
      },
    };
    const problems = await checkLedger({
      direct,
      accountIds: ['acc_a', 'acc_b'],
      landed,
      options: { ...DEFAULT_DEMO_OPTIONS, initialBalance: 100 },
    });
    expect(problems).toEqual([
      'account acc_b has 110, the successful transfers say 105',
      'transfer tr_2 is not on the server as the client saw it',
      'the server has transfer tr_3, which no successful call returned',
      'money is not conserved: 205 in total, 200 opened',
    ]);
  });
});
