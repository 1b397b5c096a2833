import { and, eq, inArray, or, sql } from 'drizzle-orm';
import { MySqlTransaction } from 'drizzle-orm/mysql-core';
import type { inferMysqlTransaction } from 'trpc-idempotency/mysql';
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
import { accountRow, fields, transferRow } from '../ledgerRows';
import type { MysqlLedgerDatabase } from './database';
import { accounts, payoutHolds, payouts, transfers } from './schema';

/** The transaction a MySQL ledger write runs in: the one `ctx.idempotency.commit` opens. */
export type MysqlLedgerTransaction = inferMysqlTransaction<MysqlLedgerDatabase>;

/**
 * The ledger on MySQL or MariaDB, for one or several server processes on one
 * database; the same design as the Postgres ledger (`../pg/ledger.ts`).
 * Reads go through the pool. Writes run in the transaction
 * `ctx.idempotency.commit` opens, so they commit with the completed
 * idempotency record.
 *
 * A transfer locks both account rows (`SELECT … ORDER BY id FOR UPDATE`, a
 * primary-key read: record locks only, no gap locks) before it checks and
 * moves anything, in the same order in every transfer, so two transfers in
 * opposite directions cannot deadlock. InnoDB's `innodb_lock_wait_timeout`,
 * which the idempotency store sets on the connections of its transactions,
 * bounds the wait: past it the request fails with a 500 and stores nothing.
 */
export function createMysqlLedger(opts: { db: MysqlLedgerDatabase; clock?: () => number }): Ledger {
  const { db, clock = Date.now } = opts;

  /** Writes outside a transaction would commit without their idempotency record. */
  function inTransaction(what: string, tx: MysqlLedgerTransaction) {
    if (!(tx instanceof MySqlTransaction)) {
      throw new Error(`${what} must run inside ctx.idempotency.commit(), in its transaction`);
    }
    return tx;
  }

  async function mustFind(id: string) {
    const [account] = await db
      .select(fields.account(accounts))
      .from(accounts)
      .where(eq(accounts.id, id));
    if (!account) throw accountNotFound(id);
    return account;
  }

  return {
    dialect: 'mysql',

    getAccount: mustFind,

    async listTransfers(accountId) {
      await mustFind(accountId);
      const rows = await db
        .select(fields.transfer(transfers))
        .from(transfers)
        .where(or(eq(transfers.fromAccountId, accountId), eq(transfers.toAccountId, accountId)))
        .orderBy(transfers.seq);
      return rows.map(toTransfer);
    },

    // A quick answer (404, 412) from the pool before any transaction opens; the
    // commit checks again under the rows' locks.
    async checkTransfer(request) {
      const found = await db
        .select(fields.account(accounts))
        .from(accounts)
        .where(inArray(accounts.id, pair(request)));
      assertTransferPossible(request, {
        from: found.find((account) => account.id === request.fromAccountId),
        to: found.find((account) => account.id === request.toAccountId),
      });
    },

    openAccount: (execution, request) =>
      execution.commit(async (tx: MysqlLedgerTransaction) => {
        const row = accountRow(request, { id: newId('acc'), now: clock() });
        await inTransaction('openAccount', tx).insert(accounts).values({
          id: row.id,
          owner: row.owner,
          balance: row.balance,
          openingBalance: row.balance,
          openedBy: row.openedBy,
          createdAtMs: row.now,
        });
        return { id: row.id, owner: row.owner, balance: row.balance };
      }),

    transfer: (execution, request) =>
      execution.commit(async (tx: MysqlLedgerTransaction) => {
        inTransaction('transfer', tx);
        // Row locks in id order: the same order in every transfer, so none can deadlock.
        const locked = await tx
          .select(fields.account(accounts))
          .from(accounts)
          .where(inArray(accounts.id, pair(request)))
          .orderBy(accounts.id)
          .for('update');
        assertTransferPossible(request, {
          from: locked.find((account) => account.id === request.fromAccountId),
          to: locked.find((account) => account.id === request.toAccountId),
        });
        const id = newId('tr');
        const now = clock();
        await tx
          .update(accounts)
          .set({
            balance: sql`CASE WHEN ${accounts.id} = ${request.fromAccountId} THEN ${accounts.balance} - ${request.amount} ELSE ${accounts.balance} + ${request.amount} END`,
          })
          .where(inArray(accounts.id, pair(request)));
        const row = transferRow(request, { id, now });
        await tx.insert(transfers).values({
          id: row.id,
          fromAccountId: row.fromAccountId,
          toAccountId: row.toAccountId,
          amount: row.amount,
          createdBy: row.createdBy,
          createdAtMs: row.now,
        });
        return toTransfer({ ...request, id, createdAtMs: now });
      }),

    // The account's row lock first: a second reservation with the same key
    // (a zombie and its successor) waits for the first to commit, then finds its hold.
    reservePayout: (request) =>
      db.transaction(async (tx) => {
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
      db.transaction(async (tx) => {
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
        if (held.state !== 'held') {
          throw new Error(`payout hold ${hold.id} is not held: it cannot be settled`);
        }
        const now = clock();
        // MySQL has no RETURNING; the hold's row lock makes the state read above current.
        await tx
          .update(payoutHolds)
          .set({ state: 'settled', settledAtMs: now })
          .where(and(eq(payoutHolds.id, hold.id), eq(payoutHolds.state, 'held')));
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
  return [request.fromAccountId, request.toAccountId];
}
