import { and, eq, or, sql } from 'drizzle-orm';
import {
  type Account,
  accountNotFound,
  assertPayoutPossible,
  assertTransferPossible,
  type Ledger,
  newId,
  type OpenAccountRequest,
  type Payout,
  type PayoutHold,
  type PayoutRequest,
  type PayoutReservation,
  sameHold,
  type Transfer,
  type TransferRequest,
  toPayout,
  toTransfer,
} from '../ledger';
import { accountRow, fields, p, transferRow, values } from '../ledgerRows';
import type { SqliteLedgerDatabase } from './database';
import { accounts, payoutHolds, payouts, transfers } from './schema';

/**
 * The ledger on SQLite, as statements prepared once. better-sqlite3 has one
 * connection, so the writes run inside whatever transaction is open on it:
 * the idempotency commit (one synchronous `BEGIN IMMEDIATE` block) calls them
 * from its callback, and they commit or roll back with the idempotency
 * record. The checks inside the commit run under SQLite's write lock, which
 * no other process can hold at the same time.
 */
export function createSqliteLedger(opts: {
  db: SqliteLedgerDatabase;
  clock?: () => number;
}): Ledger {
  const { db, clock = Date.now } = opts;
  const findAccount = db
    .select(fields.account(accounts))
    .from(accounts)
    .where(eq(accounts.id, p('id')))
    .prepare();
  const insertAccount = db.insert(accounts).values(values.account).prepare();
  const addToBalance = db
    .update(accounts)
    .set({ balance: sql`${accounts.balance} + ${p('delta')}` })
    .where(eq(accounts.id, p('id')))
    .prepare();
  const insertTransfer = db.insert(transfers).values(values.transfer).prepare();
  const transfersOf = db
    .select(fields.transfer(transfers))
    .from(transfers)
    .where(or(eq(transfers.fromAccountId, p('id')), eq(transfers.toAccountId, p('id'))))
    .orderBy(transfers.seq)
    .prepare();

  const findHold = db
    .select(fields.hold(payoutHolds))
    .from(payoutHolds)
    .where(eq(payoutHolds.holdKey, p('holdKey')))
    .prepare();
  const insertHold = db.insert(payoutHolds).values(values.hold).prepare();
  const settleHold = db
    .update(payoutHolds)
    .set({ state: 'settled', settledAtMs: sql`${p('now')}` })
    .where(and(eq(payoutHolds.id, p('id')), eq(payoutHolds.state, 'held')))
    .prepare();
  const payoutOfHold = db
    .select(fields.payout(payouts))
    .from(payouts)
    .where(eq(payouts.holdId, p('holdId')))
    .prepare();
  const insertPayout = db.insert(payouts).values(values.payout).prepare();

  // Payout writes are transactions of their own (lease mode has no commit):
  // `BEGIN IMMEDIATE`, so the check and the write see no other process's writes in between.
  const reserveNow = db.$client.transaction(
    (request: PayoutRequest & { holdKey: string; createdBy: string }): PayoutReservation => {
      const found = findHold.get({ holdKey: request.holdKey });
      if (found) {
        const hold = sameHold(found, request);
        const recorded =
          found.state === 'settled' ? payoutOfHold.get({ holdId: hold.id }) : undefined;
        return { hold, recorded: recorded ? toPayout(recorded) : null };
      }
      assertPayoutPossible(request, findAccount.get({ id: request.accountId }));
      const id = newId('hold');
      addToBalance.run({ id: request.accountId, delta: -request.amount });
      insertHold.run({
        id,
        holdKey: request.holdKey,
        accountId: request.accountId,
        amount: request.amount,
        createdBy: request.createdBy,
        now: clock(),
      });
      return {
        hold: { id, accountId: request.accountId, amount: request.amount },
        recorded: null,
      };
    },
  ).immediate;
  const recordNow = db.$client.transaction(
    (request: { hold: PayoutHold; gatewayPayoutId: string; createdBy: string }): Payout => {
      const { hold } = request;
      const recorded = payoutOfHold.get({ holdId: hold.id });
      if (recorded) return toPayout(recorded);
      const now = clock();
      if (settleHold.run({ id: hold.id, now }).changes !== 1) {
        throw new Error(`payout hold ${hold.id} is not held: it cannot be settled`);
      }
      const payout = {
        id: newId('po'),
        accountId: hold.accountId,
        amount: hold.amount,
        gatewayPayoutId: request.gatewayPayoutId,
      };
      insertPayout.run({ ...payout, holdId: hold.id, createdBy: request.createdBy, now });
      return toPayout(payout);
    },
  ).immediate;

  /** Writes outside a transaction would commit without their idempotency record. */
  function assertInTransaction(what: string) {
    if (!db.$client.inTransaction) {
      throw new Error(`${what} must run inside ctx.idempotency.commit(), in its transaction`);
    }
  }

  function mustFind(id: string): Account {
    const account = findAccount.get({ id });
    if (!account) throw accountNotFound(id);
    return account;
  }

  function check(request: TransferRequest) {
    assertTransferPossible(request, {
      from: findAccount.get({ id: request.fromAccountId }),
      to: findAccount.get({ id: request.toAccountId }),
    });
  }

  function openAccountNow(request: OpenAccountRequest): Account {
    assertInTransaction('openAccount');
    const row = accountRow(request, { id: newId('acc'), now: clock() });
    insertAccount.run(row);
    return { id: row.id, owner: row.owner, balance: row.balance };
  }

  function transferNow(request: TransferRequest & { createdBy: string }): Transfer {
    assertInTransaction('transfer');
    check(request);
    const id = newId('tr');
    const now = clock();
    addToBalance.run({ id: request.fromAccountId, delta: -request.amount });
    addToBalance.run({ id: request.toAccountId, delta: request.amount });
    insertTransfer.run(transferRow(request, { id, now }));
    return toTransfer({ ...request, id, createdAtMs: now });
  }

  return {
    dialect: 'sqlite',

    async getAccount(id) {
      return mustFind(id);
    },

    async listTransfers(accountId) {
      mustFind(accountId);
      return transfersOf.all({ id: accountId }).map(toTransfer);
    },

    // A synchronous read on the one connection: cheap, so answer early.
    async checkTransfer(request) {
      check(request);
    },

    // Synchronous callbacks: the commit is one synchronous SQLite transaction.
    openAccount: (execution, request) => execution.commit(() => openAccountNow(request)),
    transfer: (execution, request) => execution.commit(() => transferNow(request)),

    async reservePayout(request) {
      return reserveNow(request);
    },

    async recordPayout(request) {
      return recordNow(request);
    },
  };
}
