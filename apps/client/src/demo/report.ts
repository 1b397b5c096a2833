import type { FaultKind } from '@ledger/testkit';
import type { DemoOptions } from './options';

/** The demo's figures and the discrepancies it found (none, if all went well). */
export interface DemoReport {
  options: DemoOptions;
  /** Mutation calls made (account openings and transfers). */
  calls: number;
  /** Calls that needed at least one retry. */
  callsRetried: number;
  /** HTTP attempts of all calls, first attempts included. */
  attempts: number;
  transfers: { succeeded: number; refused: number };
  /** Calls whose retries ran out, then settled by calling again with the same key. */
  settledLater: number;
  faults: Record<FaultKind, number>;
  server: { executed: number; replayed: number; joined: number; conflicts: number };
  problems: string[];
  durationMs: number;
}

/** Prints the figures, then the checks passed or every discrepancy. */
export function printReport(report: DemoReport, say: (line?: string) => void) {
  const { transfers, faults, server, options } = report;
  const row = (label: string, value: string | number) => say(`  ${label.padEnd(44)}${value}`);
  const extra = report.attempts - report.calls;
  say();
  say(`Done in ${(report.durationMs / 1000).toFixed(1)} s.`);
  say();
  say('Client');
  row(
    'transfers',
    `${options.transfers} (${transfers.succeeded} succeeded, ${transfers.refused} refused: insufficient funds)`,
  );
  row('calls that needed retries', `${report.callsRetried} of ${report.calls}`);
  row('attempts through the proxy', `${report.attempts} (${extra} retries)`);
  row('calls settled after their retries ran out', report.settledLater);
  say(`Faults injected by the proxy (seed ${options.seed})`);
  row('response lost after the server answered', faults.lostResponse);
  row('connection reset before forwarding', faults.reset);
  row('502 Bad Gateway without forwarding', faults.badGateway);
  say('Server, transfers.create (from its log)');
  row('executed', server.executed);
  row('answered from the stored outcome (replayed)', server.replayed);
  row('joined a running execution', server.joined);
  say();
  if (report.problems.length > 0) {
    say(`DISCREPANCIES (${report.problems.length}):`);
    for (const problem of report.problems) say(`  ✗ ${problem}`);
    return;
  }
  say('Checks (on the server’s database, once it stopped)');
  say('  ✓ every balance is exactly what the successful transfers say');
  say(
    `  ✓ it holds the ${transfers.succeeded} transfers that succeeded, each once, as the client saw them`,
  );
  say('  ✓ each call’s stored answer is the one the client got; each refusal is stored');
  say(`  ✓ money is conserved: ${options.initialBalance * options.accounts} in total`);
  say(`  ✓ the server executed each of the ${options.transfers} transfer calls once`);
  say('  ✓ no half-written transfer, each with its completed idempotency record');
  say('All checks passed: every transfer landed exactly once.');
}

/** `0.2` as `20%`. */
export function percent(rate: number) {
  return `${Math.round(rate * 1000) / 10}%`;
}
