import { auditLedger, type LedgerFileSnapshot } from '@ledger/server/testing';
import { type Answer, answerOf, type CallRecord, send } from './http';
import { recordId } from './records';

/** What a ledger database holds: the server's own tables and every idempotency record. */
export type LedgerState = LedgerFileSnapshot;

/** The input of `transfers.create`, without the key. */
export interface TransferInput {
  fromAccountId: string;
  toAccountId: string;
  amount: number;
}

/** One logical client call, with everything the client saw. */
export interface ObservedCall<TInput = TransferInput> {
  user: string;
  key: string;
  path: string;
  input: TInput;
  record: CallRecord;
}

interface TransferResult extends TransferInput {
  id: string;
}

/**
 * Every invariant of "retry safely, effect once" that the database and the
 * clients' observations must satisfy after a run; empty when all hold:
 *
 * - the server's own audit (balances = opening ± transfers, every transfer has
 *   a completed record, no record left in progress);
 * - money conserved: the balances, plus what payouts reserved or paid out
 *   (their holds), add up to what was opened;
 * - transfers and completed `transfers.create` result records are in one-to-one
 *   correspondence (each record names one existing transfer, each transfer is
 *   named by exactly one record);
 * - no call saw two different successful responses;
 * - every call that succeeded maps, through its `(user, key)` record, to exactly
 *   the transfer it was answered with, with the input it sent; every call that
 *   was refused has that refusal stored; no transfer exists that no call got;
 * - every balance is what the clients' successful transfers say.
 */
export function checkLedgerInvariants(opts: {
  state: LedgerState;
  openingTotal: number;
  transfers: readonly ObservedCall[];
}): string[] {
  const { state } = opts;
  const problems = auditLedger(state).map((problem) => `audit: ${problem}`);

  const total =
    state.accounts.reduce((sum, account) => sum + account.balance, 0) +
    state.holds.reduce((sum, hold) => sum + hold.amount, 0);
  if (total !== opts.openingTotal) {
    problems.push(
      `money not conserved: balances and payout holds add up to ${total}, ${opts.openingTotal} was opened`,
    );
  }

  const transfersById = new Map(state.transfers.map((transfer) => [transfer.id, transfer]));
  if (transfersById.size !== state.transfers.length) problems.push('a transfer id appears twice');
  const namedBy = new Map<string, number>();
  for (const record of state.records) {
    if (record.path !== 'transfers.create' || record.outcomeKind !== 'result') continue;
    const { id } = JSON.parse(record.response!) as TransferResult;
    namedBy.set(id, (namedBy.get(id) ?? 0) + 1);
  }
  for (const [id, count] of namedBy) {
    if (count > 1) problems.push(`transfer ${id} is named by ${count} completed records`);
  }

  const records = new Map(state.records.map((record) => [recordId(record), record]));
  const expected = new Map(state.accounts.map((account) => [account.id, account.openingBalance]));
  let succeeded = 0;
  for (const call of opts.transfers) {
    const label = `${call.user}/${call.key}`;
    const distinct = new Set(call.record.successes);
    if (distinct.size > 1) {
      problems.push(
        `${label} got ${distinct.size} different successful responses: ${[...distinct].join(' | ')}`,
      );
    }
    const record = records.get(recordId({ scope: call.user, key: call.key }));
    const final = call.record.final;
    if (final.kind === 'result') {
      succeeded++;
      const answered = JSON.parse(final.body) as TransferResult;
      const transfer = transfersById.get(answered.id);
      if (!transfer) {
        problems.push(`${label} succeeded with transfer ${answered.id}, which does not exist`);
      } else if (
        transfer.fromAccountId !== call.input.fromAccountId ||
        transfer.toAccountId !== call.input.toAccountId ||
        transfer.amount !== call.input.amount
      ) {
        problems.push(`${label}: transfer ${answered.id} is not what the call asked for`);
      }
      if (record?.state !== 'completed' || record.outcomeKind !== 'result') {
        problems.push(`${label} succeeded but its record is ${record ? record.state : 'missing'}`);
      } else if (record.response !== final.body) {
        problems.push(`${label}: the stored response differs from the one the client got`);
      }
      expected.set(
        answered.fromAccountId,
        (expected.get(answered.fromAccountId) ?? 0) - answered.amount,
      );
      expected.set(
        answered.toAccountId,
        (expected.get(answered.toAccountId) ?? 0) + answered.amount,
      );
    } else if (final.status !== 400 && final.status !== 401) {
      // A stored refusal (404, 412) is the key's answer for good.
      if (record?.state !== 'completed' || record.outcomeKind !== 'error') {
        problems.push(`${label} was refused (${final.code}) but no refusal is stored`);
      }
    }
  }
  if (state.transfers.length !== succeeded) {
    problems.push(`${state.transfers.length} transfers exist, ${succeeded} calls succeeded`);
  }
  for (const account of state.accounts) {
    if (account.balance !== expected.get(account.id)) {
      problems.push(
        `account ${account.id} holds ${account.balance}, the clients' transfers say ${expected.get(account.id)}`,
      );
    }
  }
  return problems;
}

/**
 * Sends every call once more, straight to the server, and compares: a key
 * answers with what its call got, byte for byte (SPEC 3.2). Returns the
 * differences.
 */
export async function replayCalls(opts: {
  url: string;
  calls: readonly ObservedCall<unknown>[];
}): Promise<string[]> {
  const problems: string[] = [];
  for (const call of opts.calls) {
    const response = await send({
      url: opts.url,
      path: call.path,
      user: call.user,
      body: JSON.stringify({ ...(call.input as object), idempotencyKey: call.key }),
    });
    const replay: Answer | undefined = answerOf(response.status, response.json);
    const first = call.record.final;
    if (!replay || replay.body !== first.body || replay.status !== first.status) {
      problems.push(
        `${call.user}/${call.key}: replay ${replay?.status} ${replay?.body} differs from ${first.status} ${first.body}`,
      );
    }
  }
  return problems;
}
