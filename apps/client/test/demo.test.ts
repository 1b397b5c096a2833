import { useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli';
import { DEFAULT_DEMO_OPTIONS, runDemo } from '../src/demo/runDemo';

const databases = useFreshDatabases();

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

  it('passes with the server on Postgres through postgres.js (PG_DRIVER)', async () => {
    let stdout = '';
    const report = await runDemo(
      { ...DEFAULT_DEMO_OPTIONS, transfers: 30, faultRate: 0.3, seed: 5, concurrency: 4 },
      { write: (text: string) => (stdout += text) },
      { databaseUrl: await databases.create('postgres'), serverEnv: { PG_DRIVER: 'postgres.js' } },
    );
    expect(report.problems).toEqual([]);
    expect(report.server.executed).toBe(30);
    expect(stdout).toMatch(/Server: http:\/\/\S+ \(postgres:\/\/postgres:\*\*\*@/);
    expect(stdout).toContain('All checks passed: every transfer landed exactly once.');
  });

  it('reports the double transfers of a server that forgets a key at once (1 ms TTL)', async () => {
    let stdout = '';
    const report = await runDemo(
      { ...DEFAULT_DEMO_OPTIONS, transfers: 30, faultRate: 0.5, seed: 2, concurrency: 4 },
      { write: (text: string) => (stdout += text) },
      // A retry after a lost answer finds the key gone (its response and its
      // tombstone both expired) and executes again.
      { serverEnv: { IDEMPOTENCY_TTL_MS: '1', IDEMPOTENCY_HORIZON_MS: '1' } },
    );
    expect(report.server.executed).toBeGreaterThan(30);
    expect(report.problems).toContain(
      `the server executed ${report.server.executed} transfers for 30 transfer calls`,
    );
    expect(report.problems.some((problem) => problem.startsWith('audit: '))).toBe(true);
    expect(stdout).toContain(`DISCREPANCIES (${report.problems.length}):`);
    expect(stdout).not.toContain('All checks passed');
  });
});
