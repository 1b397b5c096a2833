import type { FakeGateway } from '../gateway/fakeGateway';
import type { LogLine } from '../processes/loggedProcess';
import type { ObservedCall } from './calls';
import type { LedgerSnapshot } from './snapshot';
import { moneyInLedger } from './tally';

/** The input of `payouts.create`, without the key. */
export interface PayoutInput {
  accountId: string;
  amount: number;
}

/** `payouts.create`'s steps, in order. */
export const PAYOUT_STEPS = ['reserve', 'pay', 'record'] as const;

/** A payout's record in progress, as a kill left it. */
export interface InProgressPayout {
  key: string;
  attempt: number;
  /** Its finished steps, in order. */
  steps: string[];
}

/** What one SIGKILL caught, read while the process was dead. */
export interface KillSnapshot {
  kill: number;
  /** The pause point the kill was aimed at. */
  aimedAt: string;
  /** The killed process. */
  pid: number;
  state: LedgerSnapshot;
  inProgress: InProgressPayout[];
}

/**
 * Where a payout was when a kill caught it, from what the database and the
 * gateway hold: its finished steps, and whether the step after them had done
 * its effect (the hold committed, the gateway called by the killed process,
 * the payout row committed) without its result being stored.
 */
export type Stage =
  | 'before-reserve'
  | 'in-reserve'
  | 'after-reserve'
  | 'in-pay'
  | 'after-pay'
  | 'in-record'
  | 'after-record';

/** What {@link checkPayoutRun} found: the broken invariants (empty when all hold) and figures. */
export interface PayoutRunCheck {
  problems: string[];
  figures: {
    succeeded: number;
    refused: Record<string, number>;
    /** Payouts caught in progress by a kill, by stage. */
    stagesCaught: Record<string, number>;
    /** Kills that caught a payout after the gateway paid and before `pay` was stored. */
    killsInsidePay: number;
    gatewayCalls: number;
    gatewayPayments: number;
    /** Gateway calls answered with an earlier payment of their key: no money moved. */
    gatewayRepeats: number;
    executions: number;
    takeovers: number;
    maxAttempt: number;
    stepsSkipped: number;
    /** Completions whose `executed` log line a kill cut off (the outcome was stored). */
    completionsWithoutEvent: number;
  };
}

const str = (value: unknown) => JSON.stringify(value);

/**
 * Every invariant of a payout run with kills; the problems are empty when all hold:
 *
 * - every call ended with a payout, or a stored 404 / 412;
 * - every successful call maps to one payout row with its id, account and
 *   amount, one settled hold, and one gateway payment of that amount; there
 *   are exactly as many payouts, holds and gateway payments as successes;
 * - money is conserved at every kill and at the end: balances plus holds
 *   add up to what was opened, and what the gateway paid is what the payouts
 *   recorded;
 * - a payout's finished steps, kill after kill, only grow (none lost, none
 *   changed order), and its attempt never goes back (it stays the same only
 *   while nobody took the payout over, steps unchanged);
 * - every finished step ran exactly once: the execution that completed a
 *   payout skipped exactly the steps stored when its predecessor was killed
 *   and ran the rest (its `executed` event, matched as a multiset);
 * - the gateway was called once per payout, plus once for every kill that
 *   caught that payout inside `pay` after the gateway paid (its second call, with
 *   the same downstream key, paid nothing).
 */
export function checkPayoutRun(opts: {
  calls: readonly ObservedCall<PayoutInput>[];
  /** The database at the end. */
  snapshot: LedgerSnapshot;
  openingTotal: number;
  gateway: Pick<FakeGateway, 'calls' | 'payments' | 'callsFor' | 'payment'>;
  kills: readonly KillSnapshot[];
  /** `executed` events of `payouts.create`, every generation's. */
  executed: readonly LogLine[];
}): PayoutRunCheck {
  const { calls, snapshot: state, gateway, kills } = opts;
  const problems: string[] = [];
  const refused: Record<string, number> = {};
  const payoutsById = new Map(state.payouts.map((payout) => [payout.id, payout]));
  const holdsById = new Map(state.holds.map((hold) => [hold.id, hold]));
  const finalOf = new Map<string, { kind: 'result' | 'error'; payoutId?: string }>();

  for (const call of calls) {
    const { final } = call.record;
    const label = call.key;
    if (new Set(call.record.successes).size > 1) problems.push(`${label}: two different answers`);
    if (final.kind === 'error') {
      refused[final.code ?? '?'] = (refused[final.code ?? '?'] ?? 0) + 1;
      if (final.code !== 'NOT_FOUND' && final.code !== 'PRECONDITION_FAILED') {
        problems.push(`${label} ended with ${final.status} ${final.body}`);
      }
      finalOf.set(call.key, { kind: 'error' });
      continue;
    }
    const answered = JSON.parse(final.body) as {
      id: string;
      accountId: string;
      amount: number;
      gatewayPayoutId: string;
      status: string;
    };
    finalOf.set(call.key, { kind: 'result', payoutId: answered.id });
    const payout = payoutsById.get(answered.id);
    if (!payout) {
      problems.push(`${label} was answered with payout ${answered.id}, which does not exist`);
      continue;
    }
    if (
      answered.accountId !== call.input.accountId ||
      answered.amount !== call.input.amount ||
      payout.accountId !== call.input.accountId ||
      payout.amount !== call.input.amount ||
      payout.gatewayPayoutId !== answered.gatewayPayoutId ||
      answered.status !== 'completed'
    ) {
      problems.push(`${label}: payout ${answered.id} is not what the call asked for`);
    }
    if (holdsById.get(payout.holdId)?.state !== 'settled') {
      problems.push(`${label}: the hold of payout ${payout.id} is not settled`);
    }
    const payment = gateway.payment(payout.gatewayPayoutId);
    if (payment?.amount !== payout.amount) {
      problems.push(`${label}: the gateway paid ${payment?.amount}, not ${payout.amount}`);
    }
  }

  const succeeded = calls.filter((call) => call.record.final.kind === 'result').length;
  for (const [what, count] of [
    ['payouts', state.payouts.length],
    ['holds', state.holds.length],
    ['gateway payments', gateway.payments.length],
  ] as const) {
    if (count !== succeeded) problems.push(`${count} ${what} for ${succeeded} successful payouts`);
  }
  const conserved = (at: string, snapshot: LedgerSnapshot) => {
    const total = moneyInLedger(snapshot);
    if (total !== opts.openingTotal) {
      problems.push(
        `${at}: balances and holds add up to ${total}, ${opts.openingTotal} was opened`,
      );
    }
  };
  conserved('at the end', state);
  for (const kill of kills) conserved(`after kill ${kill.kill}`, kill.state);
  const paid = gateway.payments.reduce((sum, payment) => sum + payment.amount, 0);
  const recorded = state.payouts.reduce((sum, payout) => sum + payout.amount, 0);
  if (paid !== recorded) problems.push(`the gateway paid ${paid}, the payouts record ${recorded}`);

  // Kill after kill, each payout's stored steps only grow; classify where each kill caught it.
  const lastSeen = new Map<string, InProgressPayout>();
  const stagesCaught: Record<string, number> = {};
  const insidePay = new Map<string, number>();
  for (const kill of kills) {
    for (const caught of kill.inProgress) {
      const before = lastSeen.get(caught.key);
      if (before) {
        // Untouched between two kills (not yet taken over), or taken over: never back.
        if (
          caught.attempt < before.attempt ||
          (caught.attempt === before.attempt && str(caught.steps) !== str(before.steps))
        ) {
          problems.push(
            `${caught.key}: attempt ${caught.attempt} with ${str(caught.steps)} after attempt ${before.attempt} with ${str(before.steps)}`,
          );
        }
        if (str(caught.steps.slice(0, before.steps.length)) !== str(before.steps)) {
          problems.push(`${caught.key}: steps ${str(caught.steps)} after ${str(before.steps)}`);
        }
      }
      if (str(caught.steps) !== str(PAYOUT_STEPS.slice(0, caught.steps.length))) {
        problems.push(`${caught.key}: steps stored out of order: ${str(caught.steps)}`);
      }
      lastSeen.set(caught.key, caught);
      const stage = stageOf(caught, kill, finalOf.get(caught.key), state, gateway);
      stagesCaught[stage] = (stagesCaught[stage] ?? 0) + 1;
      if (stage === 'in-pay') insidePay.set(caught.key, (insidePay.get(caught.key) ?? 0) + 1);
    }
  }

  // The gateway: one call per payout, plus one per kill inside `pay` after it paid.
  let gatewayRepeats = 0;
  for (const call of calls) {
    const result = finalOf.get(call.key);
    if (result?.kind !== 'result') continue;
    const payout = payoutsById.get(result.payoutId!);
    const downstreamKey = payout && gateway.payment(payout.gatewayPayoutId)?.downstreamKey;
    if (!downstreamKey) continue;
    const made = gateway.callsFor(downstreamKey);
    const expected = 1 + (insidePay.get(call.key) ?? 0);
    if (made.length !== expected) {
      problems.push(
        `${call.key}: the gateway was called ${made.length} times, ${expected} expected (${insidePay.get(call.key) ?? 0} kills inside pay)`,
      );
    }
    if (made.slice(1).some((each) => !each.repeated) || made[0]?.repeated) {
      problems.push(`${call.key}: a repeated call with its downstream key paid again`);
    }
    gatewayRepeats += made.filter((each) => each.repeated).length;
  }
  if (gateway.calls.length !== gatewayRepeats + gateway.payments.length) {
    problems.push(`${gateway.calls.length} gateway calls, not one per payment plus the repeats`);
  }

  // Every finished step ran once: the completing execution skipped exactly what was stored.
  const expected = calls.map((call) => {
    const caught = lastSeen.get(call.key);
    const skipped = caught?.steps ?? [];
    const outcome = finalOf.get(call.key)?.kind ?? 'error';
    return str({
      attempt: (caught?.attempt ?? 0) + 1,
      takenOver: caught !== undefined,
      outcome,
      stepsSkipped: skipped,
      stepsRun: outcome === 'result' ? PAYOUT_STEPS.filter((step) => !skipped.includes(step)) : [],
    });
  });
  const observed = opts.executed.map((event) =>
    str({
      attempt: event['attempt'],
      takenOver: event['takenOver'],
      outcome: event['outcome'],
      stepsSkipped: event['stepsSkipped'],
      stepsRun: event['stepsRun'],
    }),
  );
  const unmatched = new Map<string, number>();
  for (const each of expected) unmatched.set(each, (unmatched.get(each) ?? 0) + 1);
  for (const each of observed) {
    const left = unmatched.get(each) ?? 0;
    if (left === 0) problems.push(`an execution no payout explains: ${each}`);
    else unmatched.set(each, left - 1);
  }
  const completionsWithoutEvent = [...unmatched.values()].reduce((sum, n) => sum + n, 0);
  // A kill between a completion and its log line loses the line, not the outcome: rare, and bounded.
  if (completionsWithoutEvent > kills.length) {
    problems.push(`${completionsWithoutEvent} completions have no executed event`);
  }

  const attempts = opts.executed.map((event) => Number(event['attempt']));
  return {
    problems,
    figures: {
      succeeded,
      refused,
      stagesCaught,
      killsInsidePay: [...insidePay.values()].reduce((sum, n) => sum + n, 0),
      gatewayCalls: gateway.calls.length,
      gatewayPayments: gateway.payments.length,
      gatewayRepeats,
      executions: opts.executed.length,
      takeovers: opts.executed.filter((event) => event['takenOver'] === true).length,
      maxAttempt: Math.max(1, ...attempts),
      stepsSkipped: opts.executed.reduce(
        (sum, event) => sum + (event['stepsSkipped'] as string[]).length,
        0,
      ),
      completionsWithoutEvent,
    },
  };
}

/** Where `caught` was when `kill` came (see {@link Stage}). */
function stageOf(
  caught: InProgressPayout,
  kill: KillSnapshot,
  final: { kind: 'result' | 'error'; payoutId?: string } | undefined,
  state: LedgerSnapshot,
  gateway: Pick<FakeGateway, 'callsFor' | 'payment'>,
): Stage {
  const payout =
    final?.payoutId === undefined ? undefined : state.payouts.find((p) => p.id === final.payoutId);
  const done = caught.steps.length;
  if (done === 3) return 'after-record';
  if (done === 2) {
    return payout && kill.state.payouts.some((p) => p.id === payout.id) ? 'in-record' : 'after-pay';
  }
  if (done === 1) {
    const downstreamKey = payout && gateway.payment(payout.gatewayPayoutId)?.downstreamKey;
    const called =
      downstreamKey !== undefined &&
      gateway.callsFor(downstreamKey).some((call) => call.pid === kill.pid);
    return called ? 'in-pay' : 'after-reserve';
  }
  return payout && kill.state.holds.some((hold) => hold.id === payout.holdId)
    ? 'in-reserve'
    : 'before-reserve';
}
