import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import type { IdempotencyEvent } from '../../src';
import { entries, gate, type SqliteTestDatabase } from './sqliteApp';
import { t, type UserIdempotentOptions, userIdempotent } from './trpc';

type SqliteStore = SqliteTestDatabase['store'];

/** The final error `pay` answers for an amount over 1000. */
export const insufficientFunds = () =>
  new TRPCError({ code: 'PRECONDITION_FAILED', message: 'insufficient funds' });

/** The builder's options (transactional, on the given store), and a hook into `pay`. */
export interface LedgerOptions
  extends Partial<Omit<UserIdempotentOptions<SqliteStore>, 'store' | 'mode'>> {
  /** Awaited in each execution of `pay` just before its commit: hold it there, or throw to fail it. */
  beforeCommit?: (input: { label: string; amount: number }) => unknown;
  /** Runs inside `pay`'s commit once its entry is written: throw to fail the commit. */
  insideCommit?: () => void;
}

/**
 * The ledger most builder tests run, transactional on a SQLite store:
 * - `pay` records one entry per execution, in its commit, and answers an
 *   amount over 1000 with {@link insufficientFunds} (a final error: stored);
 * - `refund` is a second idempotent procedure, to reuse a key across procedures.
 * It keeps the key of every execution, counts the commits that ran their
 * write, and records every event.
 */
export function ledgerApp(store: SqliteStore, opts: LedgerOptions = {}) {
  const events: IdempotencyEvent[] = [];
  const executed: string[] = [];
  let writes = 0;
  let held: Promise<void> | undefined;
  const { beforeCommit, insideCommit, ...options } = opts;
  const idempotent = userIdempotent({
    store,
    onEvent: (event) => events.push(event),
    ...options,
  });
  const pay = idempotent
    .input(z.object({ label: z.string().default('pay'), amount: z.number().int() }))
    .mutation(async ({ ctx, input }) => {
      executed.push(ctx.idempotency.key);
      if (input.amount > 1000) throw insufficientFunds();
      await held;
      await beforeCommit?.(input);
      return ctx.idempotency.commit((tx) => {
        writes++;
        const row = tx.insert(entries).values(input).returning().get();
        insideCommit?.();
        return { id: row.id, label: row.label, amount: row.amount };
      });
    });
  const refund = idempotent
    .input(z.object({ label: z.string().optional() }))
    .mutation(() => ({ refunded: true }));
  const router = t.router({ pay, refund });
  const callerFor = (user: string) => t.createCallerFactory(router)({ user });
  return {
    router,
    pay,
    caller: callerFor('alice'),
    callerFor,
    events,
    executed,
    executions: () => executed.length,
    writes: () => writes,
    /** Holds every execution of `pay` before its commit, from now until the returned gate opens. */
    holdHandlers() {
      const hold = gate();
      held = hold.opened;
      return hold;
    },
  };
}
