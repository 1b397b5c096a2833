import {
  type Answer,
  answerOf,
  type CallRecord,
  type ObservedCall,
  seededRandom,
} from '@ledger/testkit';
import { isRetryable, postUntilFinal, send } from './http';

/** One logical call of a storm: sent many times, always with the same key and input. */
export interface StormCall<TInput = unknown> {
  path: string;
  user: string;
  key: string;
  input: TInput;
}

/** What every copy of every call answered, merged per call. */
export interface StormResult<TInput> {
  /** One observed call per logical call: the first copy's final answer, every copy's successes. */
  calls: ObservedCall<TInput>[];
  /** Copies whose final answer differs from the first copy's. */
  mismatches: string[];
  attempts: number;
  retriedFor: Record<string, number>;
}

/** Merges the copies of each call into one observation, listing the copies that disagree. */
export function mergeCopies<TInput>(
  calls: readonly StormCall<TInput>[],
  copies: readonly CallRecord[][],
): StormResult<TInput> {
  const mismatches: string[] = [];
  const retriedFor: Record<string, number> = {};
  let attempts = 0;
  const observed = calls.map((call, i) => {
    const records = copies[i]!;
    const first = records[0]!.final;
    for (const [copy, record] of records.entries()) {
      attempts += record.attempts;
      for (const [why, count] of Object.entries(record.retriedFor)) {
        retriedFor[why] = (retriedFor[why] ?? 0) + count;
      }
      if (record.final.status !== first.status || record.final.body !== first.body) {
        mismatches.push(
          `${call.user}/${call.key} copy ${copy}: ${record.final.status} ${record.final.body}, copy 0: ${first.status} ${first.body}`,
        );
      }
    }
    const merged: CallRecord = {
      final: first,
      attempts: records.reduce((sum, record) => sum + record.attempts, 0),
      successes: records.flatMap((record) => record.successes),
      retriedFor: {},
    };
    return { user: call.user, key: call.key, path: call.path, input: call.input, record: merged };
  });
  return { calls: observed, mismatches, attempts, retriedFor };
}

/**
 * Sends every call `copies` times at once (all requests of all calls started
 * together), copy `c` of call `k` to server `(k + c) mod n`, each copy
 * retried with the same key until it has a final answer.
 */
export async function duplicateStorm<TInput extends object>(opts: {
  urls: readonly string[];
  calls: readonly StormCall<TInput>[];
  copies: number;
  seed: number;
}): Promise<StormResult<TInput>> {
  const copies = await Promise.all(
    opts.calls.map((call, k) =>
      Promise.all(
        Array.from({ length: opts.copies }, (_, c) =>
          postUntilFinal({
            url: () => opts.urls[(k + c) % opts.urls.length]!,
            path: call.path,
            user: call.user,
            input: { ...call.input, idempotencyKey: call.key },
            random: seededRandom(opts.seed + k * opts.copies + c),
          }),
        ),
      ),
    ),
  );
  return mergeCopies(opts.calls, copies);
}

/**
 * One HTTP batch (`POST /trpc/a,b,c?batch=1`), as `httpBatchLink` sends it.
 * Resolves with each item's answer, or rejects on a network failure.
 */
export async function sendBatch(opts: {
  url: string;
  user: string;
  items: readonly { path: string; input: unknown }[];
}): Promise<{ status: number; answers: (Answer | undefined)[] }> {
  const response = await send({
    url: opts.url,
    path: opts.items.map((item) => item.path).join(','),
    query: '?batch=1',
    user: opts.user,
    body: JSON.stringify(Object.fromEntries(opts.items.map((item, i) => [i, item.input]))),
  });
  const envelopes = Array.isArray(response.json) ? (response.json as unknown[]) : [];
  return {
    status: response.status,
    // A batch's HTTP status is the items' common one, or 207: each item has its own.
    answers: opts.items.map((_, i) => {
      const envelope = envelopes[i] as { error?: { data?: { httpStatus?: number } } } | undefined;
      return answerOf(envelope?.error?.data?.httpStatus ?? 200, envelope);
    }),
  };
}

/**
 * Sends `batches` HTTP batches at once, alternating servers. Each batch holds
 * copies of some calls (a call may appear several times in one batch). An
 * item that did not get a final answer (409 after the wait bound, 5xx, the
 * batch lost) is then retried on its own with the same key.
 */
export async function batchStorm<TInput extends object>(opts: {
  urls: readonly string[];
  calls: readonly StormCall<TInput>[];
  batches: number;
  /** Items per batch. */
  batchSize: number;
  seed: number;
}): Promise<
  StormResult<TInput> & { batchStatuses: Record<string, number>; sameKeyTwiceInABatch: number }
> {
  const random = seededRandom(opts.seed);
  const user = opts.calls[0]!.user;
  const plans = Array.from({ length: opts.batches }, () =>
    Array.from({ length: opts.batchSize }, () => Math.floor(random() * opts.calls.length)),
  );
  // Every call at least once, so every call has an answer to compare.
  opts.calls.forEach((_, k) => {
    plans[k % plans.length]!.push(k);
  });
  let sameKeyTwiceInABatch = 0;
  for (const plan of plans) sameKeyTwiceInABatch += plan.length - new Set(plan).size;
  const batchStatuses: Record<string, number> = {};
  const copies: CallRecord[][] = opts.calls.map(() => []);

  await Promise.all(
    plans.map(async (plan, b) => {
      const url = opts.urls[b % opts.urls.length]!;
      const items = plan.map((k) => {
        const call = opts.calls[k]!;
        return { path: call.path, input: { ...call.input, idempotencyKey: call.key } };
      });
      let answers: (Answer | undefined)[];
      try {
        const sent = await sendBatch({ url, user, items });
        batchStatuses[sent.status] = (batchStatuses[sent.status] ?? 0) + 1;
        answers = sent.answers;
      } catch {
        batchStatuses['network'] = (batchStatuses['network'] ?? 0) + 1;
        answers = items.map(() => undefined);
      }
      await Promise.all(
        plan.map(async (k, i) => {
          const answer = answers[i];
          if (answer && !isRetryable(answer)) {
            const successes = answer.kind === 'result' ? [answer.body] : [];
            copies[k]!.push({ final: answer, attempts: 1, successes, retriedFor: {} });
            return;
          }
          const call = opts.calls[k]!;
          const retried = await postUntilFinal({
            url: () => url,
            path: call.path,
            user: call.user,
            input: { ...call.input, idempotencyKey: call.key },
            random: seededRandom(opts.seed + b * 1000 + i),
          });
          const why = answer?.code === 'CONFLICT' ? '409' : String(answer?.status ?? 'network');
          copies[k]!.push({
            ...retried,
            attempts: retried.attempts + 1,
            retriedFor: { ...retried.retriedFor, [why]: (retried.retriedFor[why] ?? 0) + 1 },
          });
        }),
      );
    }),
  );
  return { ...mergeCopies(opts.calls, copies), batchStatuses, sameKeyTwiceInABatch };
}
