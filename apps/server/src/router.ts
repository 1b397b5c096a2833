import type { IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { initTRPC, TRPCError } from '@trpc/server';
import {
  type AnyIdempotencyStore,
  type IdempotencyEvent,
  type IdempotencyResponseContext,
  type InFlightOptions,
  idempotencyResponseContext,
  idempotentProcedure,
} from 'trpc-idempotency';
import { ZodError, z } from 'zod';
import { readCallerIdentity } from './identity';
import { internalErrorMessage, isInternalError, requestIdOf } from './internalError';
import type { Ledger } from './ledger';
import type { Logger } from './logger';
import type { Metrics } from './metrics';
import type { PayoutGateway } from './payoutGateway';
import { createPayout, type PayoutPausePoint, payoutsNotConfigured } from './payouts';
import type { HandlerTracker } from './procedureTracker';

/**
 * The request context. `userId` is the `x-user-id` header: a demo stand-in
 * for real authentication, and the idempotency scope. A header that breaks
 * the identity rule leaves `userId` undefined and says why in
 * `userIdRefusal`: mutations answer it with 401, public queries ignore it.
 */
export interface LedgerContext {
  userId: string | undefined;
  userIdRefusal?: string | undefined;
}

/**
 * Builds the context from the request's `x-user-id` header (see `identity.ts`),
 * with the library's per-request record of replays, from which `responseMeta`
 * sets `Idempotent-Replayed: true` on a response that replayed every call, and
 * the `Idempotency-Key` header of a single call.
 */
export function createContext(opts: {
  req: IncomingMessage;
  /** tRPC's request info: a single call takes its key from an `Idempotency-Key` header. */
  info?: { calls: readonly unknown[] };
}): LedgerContext & IdempotencyResponseContext {
  const { userId, refusal } = readCallerIdentity(opts.req);
  return { userId, userIdRefusal: refusal, ...idempotencyResponseContext(opts) };
}

/** One line per invalid field: `amount: Too small: expected number to be >0`. */
function describeIssues(error: ZodError) {
  return error.issues
    .map((issue) =>
      issue.path.length > 0
        ? `${issue.path.map(String).join('.')}: ${issue.message}`
        : issue.message,
    )
    .join('; ');
}

const t = initTRPC.context<LedgerContext>().create({
  // No stack traces on the wire: the API is public, and a replayed error must
  // be byte-identical to the original. Internal errors say only their request
  // id; their message and stack go to the log instead.
  isDev: false,
  errorFormatter({ shape, error }) {
    if (isInternalError(error)) {
      // The details (SQL, parameters, stack) go to the log line with this request id.
      return {
        ...shape,
        message: internalErrorMessage(error),
        data: { ...shape.data, requestId: requestIdOf(error) },
      };
    }
    if (!(error.cause instanceof ZodError)) return shape;
    return {
      ...shape,
      message: `invalid input: ${describeIssues(error.cause)}`,
      data: {
        ...shape.data,
        issues: error.cause.issues.map((issue) => ({
          path: issue.path.map(String).join('.'),
          message: issue.message,
        })),
      },
    };
  },
});

/** What the router needs to run. */
export interface LedgerRouterOptions {
  ledger: Ledger;
  /** The idempotency store of the ledger's database: its commits are the ledger's transactions. */
  store: AnyIdempotencyStore;
  logger: Logger;
  /** Counts every idempotency event. */
  metrics?: Metrics;
  tracker: HandlerTracker;
  /** Pause of `transfers.create` between its checks and its commit, in ms (fault hook). */
  transferDelayMs: number;
  /** How a duplicate waits for a key in progress in another process. */
  inFlight: InFlightOptions;
  /** How long an execution owns its key, in ms (library default when undefined). */
  leaseMs?: number | undefined;
  /** How long a completed key is replayed, in ms (library default when undefined). */
  ttlMs?: number | undefined;
  /** How long a completed key stays bound (a tombstone after its TTL), in ms (library default when undefined). */
  horizonMs?: number | undefined;
  /** The payout gateway; without it `payouts.create` answers 501 before its key is looked at. */
  payoutGateway?: PayoutGateway | undefined;
  /** The payout fault hook, per attempt (see `payoutPauses`); no pauses when undefined. */
  payoutPause?: ((attempt: number) => (point: PayoutPausePoint) => Promise<void>) | undefined;
}

/**
 * Whether `value` is well-formed UTF-16: no lone surrogate (`\ud800`–`\udfff`
 * without its pair). `String.prototype.isWellFormed` is in Node 20 (ES2024);
 * the project's TypeScript lib is ES2022, hence the cast.
 */
export function isWellFormed(value: string): boolean {
  return (value as string & { isWellFormed(): boolean }).isWellFormed();
}

/**
 * A string input of 1 to `max` UTF-16 code units, well-formed: JSON may carry
 * a lone surrogate (`"a\ud800b"`), which the databases cannot store (they
 * store UTF-8, so it would become U+FFFD) while the answer and its stored
 * replay would still say it. Refused as invalid input (400): nothing stored,
 * the key stays free.
 */
export function text(max: number) {
  return z.string().min(1).max(max).refine(isWellFormed, {
    message: 'must be well-formed Unicode: it contains a lone surrogate (U+D800–U+DFFF)',
  });
}

const id = text(100);

/** Money in minor units: an integer JavaScript represents exactly. */
const money = z.int();

/** Durations to a tenth of a millisecond, for readable log lines. */
function roundMs(fields: Record<string, unknown>) {
  const rounded: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    rounded[name] =
      name.endsWith('Ms') && typeof value === 'number' ? Math.round(value * 10) / 10 : value;
  }
  return rounded;
}

/** The ledger's tRPC router: the fixed API of the README, and `payouts.create`. */
export function createLedgerRouter(opts: LedgerRouterOptions) {
  const { ledger, logger, tracker, metrics } = opts;

  const publicProcedure = t.procedure.use(async ({ path, next }) => {
    tracker.enter(path);
    try {
      return await next();
    } finally {
      tracker.leave(path);
    }
  });

  // Authentication comes before the idempotency step: an anonymous request has
  // no scope to look its key up in, and must not create a record.
  const authedProcedure = publicProcedure.use(({ ctx, next }) => {
    if (ctx.userIdRefusal !== undefined) {
      throw new TRPCError({ code: 'UNAUTHORIZED', message: ctx.userIdRefusal });
    }
    if (ctx.userId === undefined) {
      throw new TRPCError({
        code: 'UNAUTHORIZED',
        message: 'mutations need a caller: send the x-user-id header',
      });
    }
    return next({ ctx: { userId: ctx.userId } });
  });

  // The events go to the log; the metrics are the library's own, through OpenTelemetry.
  const onEvent = (event: IdempotencyEvent) => {
    const { type, ...fields } = event;
    logger.info(type, roundMs(fields));
  };
  const telemetry = metrics ? { meterProvider: metrics.meterProvider } : undefined;
  const idempotent = idempotentProcedure({
    procedure: authedProcedure,
    store: opts.store,
    scope: ({ ctx }) => ctx.userId,
    inFlight: opts.inFlight,
    leaseMs: opts.leaseMs,
    ttlMs: opts.ttlMs,
    horizonMs: opts.horizonMs,
    onEvent,
    telemetry,
  });

  // Payouts call an external gateway: lease mode, with a recovery point per
  // effect. A server without a gateway refuses them before any record is made.
  const { payoutGateway } = opts;
  const noPause = async () => {};
  const payoutPause = opts.payoutPause ?? (() => noPause);
  const leased = idempotentProcedure({
    procedure: authedProcedure.use(({ next }) => {
      if (!payoutGateway) throw payoutsNotConfigured();
      return next({ ctx: { payoutGateway } });
    }),
    store: opts.store,
    scope: ({ ctx }) => ctx.userId,
    mode: 'lease',
    inFlight: opts.inFlight,
    leaseMs: opts.leaseMs,
    ttlMs: opts.ttlMs,
    horizonMs: opts.horizonMs,
    onEvent,
    telemetry,
  });

  return t.router({
    health: publicProcedure.query(() => ({ ok: true as const })),

    accounts: t.router({
      open: idempotent
        .input(z.object({ owner: text(100), initialBalance: money.min(0) }))
        .mutation(({ ctx, input }) =>
          ledger.openAccount(ctx.idempotency, {
            owner: input.owner,
            initialBalance: input.initialBalance,
            openedBy: ctx.userId,
          }),
        ),

      get: publicProcedure
        .input(z.object({ id }))
        .query(({ input }) => ledger.getAccount(input.id)),
    }),

    transfers: t.router({
      create: idempotent
        .input(
          z
            .object({ fromAccountId: id, toAccountId: id, amount: money.min(1) })
            // Input validation: rejected before the idempotency step, so nothing is stored.
            .refine((input) => input.fromAccountId !== input.toAccountId, {
              path: ['toAccountId'],
              message: 'must be a different account than fromAccountId',
            }),
        )
        .mutation(async ({ ctx, input }) => {
          const request = {
            fromAccountId: input.fromAccountId,
            toAccountId: input.toAccountId,
            amount: input.amount,
          };
          // Answer early when the transfer cannot happen; the commit checks again.
          await ledger.checkTransfer(request);
          if (opts.transferDelayMs > 0) await sleep(opts.transferDelayMs);
          return ledger.transfer(ctx.idempotency, { ...request, createdBy: ctx.userId });
        }),

      list: publicProcedure
        .input(z.object({ accountId: id }))
        .query(({ input }) => ledger.listTransfers(input.accountId)),
    }),

    payouts: t.router({
      create: leased
        .input(z.object({ accountId: id, amount: money.min(1) }))
        .mutation(({ ctx, input }) =>
          createPayout({
            execution: ctx.idempotency,
            ledger,
            gateway: ctx.payoutGateway,
            request: { accountId: input.accountId, amount: input.amount, createdBy: ctx.userId },
            pause: payoutPause(ctx.idempotency.attempt),
          }),
        ),
    }),
  });
}

/** The ledger API's type, for typed clients. */
export type AppRouter = ReturnType<typeof createLedgerRouter>;
