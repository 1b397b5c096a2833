import { TRPCError } from '@trpc/server';
import type { LeaseIdempotencyHandle } from 'trpc-idempotency';
import { callerFacing } from './internalError';
import type { Ledger, Payout, PayoutRequest } from './ledger';
import { type PayoutGateway, PayoutGatewayError } from './payoutGateway';

/**
 * Where the payout fault hook (`LEDGER_PAYOUT_DELAY_MS`) can pause, in the
 * order a payout passes them: before its first step, inside each step (its
 * effect done, its result not stored yet) and after each step (its result
 * stored). A test kills the server there.
 */
export const PAYOUT_PAUSE_POINTS = [
  'before-reserve',
  'in-reserve',
  'after-reserve',
  'in-pay',
  'after-pay',
  'in-record',
  'after-record',
] as const;

/** One of {@link PAYOUT_PAUSE_POINTS}. */
export type PayoutPausePoint = (typeof PAYOUT_PAUSE_POINTS)[number];

/** What a payout needs: its execution's steps and keys, the ledger, the gateway, the fault hook. */
export interface CreatePayoutOptions {
  execution: Pick<LeaseIdempotencyHandle, 'step' | 'downstreamKey'>;
  ledger: Ledger;
  gateway: PayoutGateway;
  request: PayoutRequest & { createdBy: string };
  /** Resolves when the payout may go on past `point` (the fault hook; at once without it). */
  pause: (point: PayoutPausePoint) => Promise<void>;
}

/**
 * `payouts.create`, as three recovery points of a lease-mode execution:
 *
 * 1. `reserve`: one ledger transaction moves the amount from the account's
 *    balance into a hold (NOT_FOUND or PRECONDITION_FAILED: nothing moves,
 *    and the refusal is the key's final answer);
 * 2. `pay`: the external gateway pays out, with `downstreamKey('pay')`;
 * 3. `record`: one ledger transaction settles the hold and records the payout.
 *
 * A step's result is stored when it finishes; after a crash the retry that
 * takes the key over runs this again from the top, and the finished steps
 * answer from storage. The step that was cut off runs again, so each is
 * idempotent on its own: the hold is keyed by `downstreamKey('reserve')`, the
 * gateway deduplicates by its key, and a hold is recorded once. A hold found
 * settled already answers with its payout, without asking the gateway.
 */
export async function createPayout(opts: CreatePayoutOptions): Promise<Payout> {
  const { execution, ledger, gateway, request, pause } = opts;
  await pause('before-reserve');
  const reservation = await execution.step('reserve', async () => {
    const reserved = await ledger.reservePayout({
      ...request,
      holdKey: execution.downstreamKey('reserve'),
    });
    await pause('in-reserve');
    return reserved;
  });
  await pause('after-reserve');
  // This key paid out before (its record expired, or was released after the payout was
  // recorded): that payout is the answer. The gateway is not asked again, as its own
  // deduplication may not reach that far back.
  if (reservation.recorded) return reservation.recorded;
  const { hold } = reservation;
  const paid = await execution.step('pay', async () => {
    const answer = await payOrRetryLater(gateway, {
      downstreamKey: execution.downstreamKey('pay'),
      accountId: hold.accountId,
      amount: hold.amount,
    });
    await pause('in-pay');
    return answer;
  });
  await pause('after-pay');
  const payout = await execution.step('record', async () => {
    const recorded = await ledger.recordPayout({
      hold,
      gatewayPayoutId: paid.gatewayPayoutId,
      createdBy: request.createdBy,
    });
    await pause('in-record');
    return recorded;
  });
  await pause('after-record');
  return payout;
}

/**
 * The gateway's answer, or a 502 the caller can act on. Whether the gateway
 * paid is unknown, so the failure is transient: the key is released, the
 * reservation stays, and a retry with the same key pays with the same
 * downstream key (once, whatever happened the first time).
 */
async function payOrRetryLater(
  gateway: PayoutGateway,
  request: Parameters<PayoutGateway['pay']>[0],
) {
  try {
    return await gateway.pay(request);
  } catch (error) {
    if (!(error instanceof PayoutGatewayError)) throw error;
    throw callerFacing(
      new TRPCError({
        code: 'BAD_GATEWAY',
        message: `${error.message}; the amount stays reserved: retry with the same idempotencyKey`,
        cause: error,
      }),
    );
  }
}

/** The answer of `payouts.create` on a server started without `PAYOUT_GATEWAY_URL`. */
export function payoutsNotConfigured() {
  return callerFacing(
    new TRPCError({
      code: 'NOT_IMPLEMENTED',
      message:
        'payouts are not configured on this server: it was started without PAYOUT_GATEWAY_URL',
    }),
  );
}

/**
 * The fault hook: pauses `delayMs` at each of `at` (logging `payout paused`
 * with the point and attempt first, so a test knows where the payout is), or
 * never when `delayMs` is 0.
 */
export function payoutPauses(opts: {
  delayMs: number;
  at: readonly PayoutPausePoint[];
  log: (fields: { point: PayoutPausePoint; attempt: number; delayMs: number }) => void;
}) {
  const points = new Set(opts.at);
  return (attempt: number) =>
    async (point: PayoutPausePoint): Promise<void> => {
      if (opts.delayMs <= 0 || !points.has(point)) return;
      opts.log({ point, attempt, delayMs: opts.delayMs });
      await new Promise((resolve) => setTimeout(resolve, opts.delayMs));
    };
}
