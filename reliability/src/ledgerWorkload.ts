import { randomUUID } from 'node:crypto';
import { createLedgerClient, type LedgerClient } from '@ledger/client';
import {
  type CallRecord,
  type ObservedCall,
  type PayoutInput,
  randomInt,
  seededRandom,
  type TransferInput,
} from '@ledger/testkit';
import { postUntilFinal } from './http';
import { sleep } from './pool';
import { mutateUntilFinal } from './typedCalls';

/** Opens `count` accounts holding `balance` each (plain HTTP, retried until final). */
export async function openAccounts(opts: {
  url: () => string;
  count: number;
  balance: number;
  random: () => number;
}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < opts.count; i++) {
    const { final } = await postUntilFinal({
      url: opts.url,
      path: 'accounts.open',
      user: 'setup',
      input: {
        idempotencyKey: `setup-${randomUUID()}`,
        owner: `Owner ${i}`,
        initialBalance: opts.balance,
      },
      random: opts.random,
    });
    if (final.kind !== 'result') throw new Error(`could not open an account: ${final.body}`);
    ids.push((JSON.parse(final.body) as { id: string }).id);
  }
  return ids;
}

/** A seeded, endless plan of random transfers between `accounts`, amounts 1–`maxAmount`. */
export function transferPlan(opts: { accounts: string[]; seed: number; maxAmount: number }) {
  const random = seededRandom(opts.seed);
  let n = 0;
  return (): TransferInput & { key: string } => {
    const from = randomInt(random, 0, opts.accounts.length - 1);
    const to = (from + randomInt(random, 1, opts.accounts.length - 1)) % opts.accounts.length;
    return {
      key: `transfer-${opts.seed}-${(n++).toString().padStart(6, '0')}`,
      fromAccountId: opts.accounts[from]!,
      toAccountId: opts.accounts[to]!,
      amount: randomInt(random, 1, opts.maxAmount),
    };
  };
}

/** How a client makes its calls: the typed client (idempotencyLink, batched) or a raw-fetch loop. */
export type ClientKind = 'typed' | 'raw';

/** Options of {@link mutationClients}. */
export interface MutationClientsOptions<TInput extends object> {
  /** The idempotent mutation every client calls. */
  path: string;
  /** The same call through the typed client. */
  typed: (client: LedgerClient, input: TInput & { idempotencyKey: string }) => Promise<unknown>;
  /** The base URL to call (it may change when a server restarts on another port). */
  url: () => string;
  workers: number;
  next: () => TInput & { key: string };
  seed: number;
  /** Per-attempt timeout of both kinds of client. */
  attemptTimeoutMs?: number;
  /** Stop after this many calls at most. Default 100 000. */
  maxCalls?: number;
  /**
   * For a server the test kills and restarts: when it last became ready
   * (`crashableLedger`'s `upSince`). Each call's bounds count from then (`callBounds`).
   */
  serverUpSince?: () => number;
}

/**
 * Clients that call one idempotent mutation until told to stop, each call
 * retried with its key until it has a final answer. Half are the typed client
 * (`createLedgerClient`: `idempotencyLink` + `httpBatchLink`, one client shared
 * by those workers so their calls batch), half a raw-fetch loop. Returns every
 * call as observed.
 */
export function mutationClients<TInput extends object>(opts: MutationClientsOptions<TInput>) {
  const calls: ObservedCall<TInput>[] = [];
  let stopping = false;
  let started = 0;
  let retries = 0;
  const typedClients = new Map<string, LedgerClient>();
  const random = seededRandom(opts.seed);
  const typedFor = (url: string) => {
    let client = typedClients.get(url);
    if (!client) {
      client = createLedgerClient({
        url,
        user: 'alice',
        attemptTimeoutMs: opts.attemptTimeoutMs ?? 5000,
        retry: { maxAttempts: 8, baseDelayMs: 20, maxDelayMs: 300, deadlineMs: 8000, random },
        onRetry: () => retries++,
      });
      typedClients.set(url, client);
    }
    return client;
  };
  const takeRetries = () => {
    const taken = retries;
    retries = 0;
    return taken;
  };

  async function call(kind: ClientKind, planned: TInput & { key: string }): Promise<CallRecord> {
    const { key, ...input } = planned;
    if (kind === 'raw') {
      return postUntilFinal({
        url: opts.url,
        path: opts.path,
        user: 'alice',
        input: { idempotencyKey: key, ...input },
        random,
        attemptTimeoutMs: opts.attemptTimeoutMs ?? 5000,
        serverUpSince: opts.serverUpSince,
      });
    }
    return mutateUntilFinal({
      mutate: () =>
        opts.typed(typedFor(opts.url()), { idempotencyKey: key, ...input } as TInput & {
          idempotencyKey: string;
        }),
      // Shared by the typed workers: attempts are counted per round, approximately per call.
      takeRetries,
      random,
      serverUpSince: opts.serverUpSince,
    });
  }

  const done = Promise.all(
    Array.from({ length: opts.workers }, async (_, worker) => {
      const kind: ClientKind = worker % 2 === 0 ? 'typed' : 'raw';
      while (!stopping && started < (opts.maxCalls ?? 100_000)) {
        started++;
        const planned = opts.next();
        const record = await call(kind, planned);
        const { key, ...input } = planned;
        calls.push({ user: 'alice', key, path: opts.path, input: input as TInput, record });
        await sleep(0);
      }
    }),
  );
  return {
    calls,
    /** Lets every client finish its current call, then resolves with all calls. */
    async stop() {
      stopping = true;
      await done;
      return calls;
    },
    done,
  };
}

/** {@link mutationClients} making transfers (`transfers.create`). */
export function transferClients(
  opts: Omit<MutationClientsOptions<TransferInput>, 'path' | 'typed'>,
) {
  return mutationClients<TransferInput>({
    ...opts,
    path: 'transfers.create',
    typed: (client, input) => client.transfers.create.mutate(input),
  });
}

/** Sums of what the calls went through, for the report. */
export function summarizeCalls(calls: readonly ObservedCall<unknown>[]) {
  const retriedFor: Record<string, number> = {};
  let attempts = 0;
  let succeeded = 0;
  const refused: Record<string, number> = {};
  for (const call of calls) {
    attempts += call.record.attempts;
    if (call.record.final.kind === 'result') succeeded++;
    else refused[call.record.final.code ?? '?'] = (refused[call.record.final.code ?? '?'] ?? 0) + 1;
    for (const [why, count] of Object.entries(call.record.retriedFor)) {
      retriedFor[why] = (retriedFor[why] ?? 0) + count;
    }
  }
  return { calls: calls.length, succeeded, refused, attempts, retriedFor };
}
/**
 * A seeded, endless plan of payouts from `accounts`, amounts 1–`maxAmount`;
 * a share `unknownRate` from an account that does not exist (a 404), and a
 * share `oversizeRate` of `oversize`, more than any account holds (a 412).
 */
export function payoutPlan(opts: {
  accounts: string[];
  seed: number;
  maxAmount: number;
  unknownRate: number;
  oversizeRate: number;
  oversize: number;
}) {
  const random = seededRandom(opts.seed);
  let n = 0;
  return (): PayoutInput & { key: string } => {
    const key = `payout-${opts.seed}-${(n++).toString().padStart(6, '0')}`;
    const draw = random();
    const accountId =
      draw < opts.unknownRate
        ? `acc_unknown${n}`
        : opts.accounts[randomInt(random, 0, opts.accounts.length - 1)]!;
    const oversized = draw >= opts.unknownRate && draw < opts.unknownRate + opts.oversizeRate;
    return {
      key,
      accountId,
      amount: oversized ? opts.oversize : randomInt(random, 1, opts.maxAmount),
    };
  };
}
