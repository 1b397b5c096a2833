import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { PgTransaction } from 'drizzle-orm/pg-core';
import type { inferPgTransaction } from 'trpc-idempotency/pg';
import {
  accountNotFound,
  assertPayoutPossible,
  assertTransferPossible,
  type Ledger,
  newId,
  sameHold,
  type TransferRequest,
  toPayout,
  toTransfer,
} from '../ledger';
import { accountRow, fields, p, transferRow, values } from '../ledgerRows';
import type { PgLedgerDatabase } from './database';
import { accounts, payoutHolds, payouts, transfers } from './schema';

/** The transaction a Postgres ledger write runs in: the one `ctx.idempotency.commit` opens. */
export type PgLedgerTransaction = inferPgTransaction<PgLedgerDatabase>;

/** A transaction the ledger opens itself, on a pooled connection (the payout writes). */
type PgWriteTransaction = Parameters<Parameters<PgLedgerDatabase['transaction']>[0]>[0];

/**
 * The ledger on Postgres, for one or several server processes on one
 * database. Reads go through the pool. Writes run in the transaction
 * `ctx.idempotency.commit` opens, so they commit with the completed
 * idempotency record (inserted with the transaction's COMMIT).
 *
 * A transfer locks both account rows (`SELECT … ORDER BY id FOR UPDATE`)
 * before it checks and moves anything: concurrent transfers on an account,
 * from any process, take turns, and the check sees the balance as the
 * previous one committed it, so a balance never goes negative and money is
 * conserved. Every transfer locks in the same order, by id, so two transfers
 * in opposite directions cannot deadlock. The pool's sessions bound the wait
 * for those locks (`lock_timeout`, see `database.ts`): past it the request
 * fails with a 500 and stores nothing.
 */
export function createPgLedger(opts: { db: PgLedgerDatabase; clock?: () => number }): Ledger {
  const { db, clock = Date.now } = opts;
  const findAccount = db
    .select(fields.account(accounts))
    .from(accounts)
    .where(eq(accounts.id, p('id')))
    .prepare('ledger_find_account');
  const transfersOf = db
    .select(fields.transfer(transfers))
    .from(transfers)
    .where(or(eq(transfers.fromAccountId, p('id')), eq(transfers.toAccountId, p('id'))))
    .orderBy(transfers.seq)
    .prepare('ledger_transfers_of');
  const findPair = db
    .select(fields.account(accounts))
    .from(accounts)
    .where(inArray(accounts.id, [p('fromAccountId'), p('toAccountId')]))
    .prepare('ledger_find_pair');

  // Statements of a transaction are built on its handle; their names let each
  // connection parse them once.
  const statementsOn = (tx: PgLedgerTransaction) => ({
    insertAccount: tx.insert(accounts).values(values.account).prepare('ledger_insert_account'),
    // Row locks in id order: the same order in every transfer, so none can deadlock.
    lockAccounts: tx
      .select(fields.account(accounts))
      .from(accounts)
      .where(inArray(accounts.id, [p('fromAccountId'), p('toAccountId')]))
      .orderBy(accounts.id)
      .for('update')
      .prepare('ledger_lock_accounts'),
    moveMoney: tx
      .update(accounts)
      .set({
        balance: sql`CASE WHEN ${accounts.id} = ${p('fromAccountId')} THEN ${accounts.balance} - ${p('amount')} ELSE ${accounts.balance} + ${p('amount')} END`,
      })
      .where(inArray(accounts.id, [p('fromAccountId'), p('toAccountId')]))
      .prepare('ledger_move_money'),
    insertTransfer: tx.insert(transfers).values(values.transfer).prepare('ledger_insert_transfer'),
  });

  /** Writes outside a transaction would commit without their idempotency record. */
  function inTransaction(what: string, tx: PgLedgerTransaction) {
    if (!(tx instanceof PgTransaction)) {
      throw new Error(`${what} must run inside ctx.idempotency.commit(), in its transaction`);
    }
    return statementsOn(tx);
  }

  async function mustFind(id: string) {
    const [account] = await findAccount.execute({ id });
    if (!account) throw accountNotFound(id);
    return account;
  }

  /**
   * A payout write in a transaction of its own (lease mode has no commit); its
   * row-lock wait is bounded like a transfer's, by the pooled session's `lock_timeout`.
   */
  function payoutTransaction<T>(write: (tx: PgWriteTransaction) => Promise<T>) {
    return db.transaction(write);
  }

  return {
    dialect: 'postgres',

    getAccount: mustFind,

    async listTransfers(accountId) {
      await mustFind(accountId);
      return (await transfersOf.execute({ id: accountId })).map(toTransfer);
    },

    // A quick answer (404, 412) from the pool before any transaction opens: the
    // execution holds no connection while it prepares. The commit checks again
    // under the rows' locks.
    async checkTransfer(request) {
      const found = await findPair.execute(pair(request));
      assertTransferPossible(request, {
        from: found.find((account) => account.id === request.fromAccountId),
        to: found.find((account) => account.id === request.toAccountId),
      });
    },

    openAccount: (execution, request) =>
      execution.commit(async (tx: PgLedgerTransaction) => {
        const { insertAccount } = inTransaction('openAccount', tx);
        const row = accountRow(request, { id: newId('acc'), now: clock() });
        await insertAccount.execute(row);
        return { id: row.id, owner: row.owner, balance: row.balance };
      }),

    transfer: (execution, request) =>
      execution.commit(async (tx: PgLedgerTransaction) => {
        const statements = inTransaction('transfer', tx);
        const locked = await statements.lockAccounts.execute(pair(request));
        assertTransferPossible(request, {
          from: locked.find((account) => account.id === request.fromAccountId),
          to: locked.find((account) => account.id === request.toAccountId),
        });
        const id = newId('tr');
        const now = clock();
        await statements.moveMoney.execute({ ...pair(request), amount: request.amount });
        await statements.insertTransfer.execute(transferRow(request, { id, now }));
        return toTransfer({ ...request, id, createdAtMs: now });
      }),

    // The account's row lock first: a second reservation with the same key
    // (a zombie and its successor) waits for the first to commit, then finds its hold.
    reservePayout: (request) =>
      payoutTransaction(async (tx) => {
        const [account] = await tx
          .select(fields.account(accounts))
          .from(accounts)
          .where(eq(accounts.id, request.accountId))
          .for('update');
        if (!account) throw accountNotFound(request.accountId);
        const [found] = await tx
          .select(fields.hold(payoutHolds))
          .from(payoutHolds)
          .where(eq(payoutHolds.holdKey, request.holdKey));
        if (found) {
          const hold = sameHold(found, request);
          if (found.state !== 'settled') return { hold, recorded: null };
          const [recorded] = await tx
            .select(fields.payout(payouts))
            .from(payouts)
            .where(eq(payouts.holdId, hold.id));
          return { hold, recorded: recorded ? toPayout(recorded) : null };
        }
        assertPayoutPossible(request, account);
        const id = newId('hold');
        await tx
          .update(accounts)
          .set({ balance: sql`${accounts.balance} - ${request.amount}` })
          .where(eq(accounts.id, request.accountId));
        await tx.insert(payoutHolds).values({
          id,
          holdKey: request.holdKey,
          accountId: request.accountId,
          amount: request.amount,
          state: 'held',
          createdBy: request.createdBy,
          createdAtMs: clock(),
        });
        return {
          hold: { id, accountId: request.accountId, amount: request.amount },
          recorded: null,
        };
      }),

    recordPayout: ({ hold, gatewayPayoutId, createdBy }) =>
      payoutTransaction(async (tx) => {
        // The hold's row lock: a second recording of the same payout waits, then finds the first.
        const [held] = await tx
          .select({ state: payoutHolds.state })
          .from(payoutHolds)
          .where(eq(payoutHolds.id, hold.id))
          .for('update');
        if (!held) throw new Error(`payout hold ${hold.id} does not exist`);
        const [recorded] = await tx
          .select(fields.payout(payouts))
          .from(payouts)
          .where(eq(payouts.holdId, hold.id));
        if (recorded) return toPayout(recorded);
        const now = clock();
        const settled = await tx
          .update(payoutHolds)
          .set({ state: 'settled', settledAtMs: now })
          .where(and(eq(payoutHolds.id, hold.id), eq(payoutHolds.state, 'held')))
          .returning({ id: payoutHolds.id });
        if (settled.length !== 1) {
          throw new Error(`payout hold ${hold.id} is not held: it cannot be settled`);
        }
        const payout = {
          id: newId('po'),
          accountId: hold.accountId,
          amount: hold.amount,
          gatewayPayoutId,
        };
        await tx
          .insert(payouts)
          .values({ ...payout, holdId: hold.id, createdBy, createdAtMs: now });
        return toPayout(payout);
      }),
  };
}

function pair(request: TransferRequest) {
  return { fromAccountId: request.fromAccountId, toAccountId: request.toAccountId };
}
