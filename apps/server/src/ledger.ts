import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import { eq, or, sql } from 'drizzle-orm';
import type { LedgerDatabase } from './database';
import { accounts, transfers } from './schema';

/** An account as the API returns it. */
export interface Account {
  id: string;
  owner: string;
  balance: number;
}

/** A transfer as the API returns it; `createdAt` is ISO-8601. */
export interface Transfer {
  id: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  createdAt: string;
}

/** What a transfer moves; checked before the commit and again inside it. */
export interface TransferRequest {
  fromAccountId: string;
  toAccountId: string;
  amount: number;
}

/** A new id such as `acc_3f9c0e1a7b2d4c58`: a prefix and 64 random bits. */
export function newId(prefix: 'acc' | 'tr') {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/**
 * The ledger's reads and writes, as statements prepared once. better-sqlite3
 * has one connection, so the write functions run inside whatever transaction
 * is open on it: the idempotency commit calls them from its callback, and
 * they commit or roll back with the idempotency record.
 */
export function createLedger(opts: { db: LedgerDatabase; clock?: () => number }) {
  const { db } = opts;
  const clock = opts.clock ?? Date.now;
  const p = (name: string) => sql.placeholder(name);

  const findAccount = db
    .select({ id: accounts.id, owner: accounts.owner, balance: accounts.balance })
    .from(accounts)
    .where(eq(accounts.id, p('id')))
    .prepare();
  const insertAccount = db
    .insert(accounts)
    .values({
      id: p('id'),
      owner: p('owner'),
      balance: p('balance'),
      openingBalance: p('balance'),
      openedBy: p('openedBy'),
      createdAtMs: p('now'),
    })
    .prepare();
  const addToBalance = db
    .update(accounts)
    .set({ balance: sql`${accounts.balance} + ${p('delta')}` })
    .where(eq(accounts.id, p('id')))
    .prepare();
  const insertTransfer = db
    .insert(transfers)
    .values({
      id: p('id'),
      fromAccountId: p('fromAccountId'),
      toAccountId: p('toAccountId'),
      amount: p('amount'),
      createdBy: p('createdBy'),
      createdAtMs: p('now'),
    })
    .prepare();
  const transfersOf = db
    .select({
      id: transfers.id,
      fromAccountId: transfers.fromAccountId,
      toAccountId: transfers.toAccountId,
      amount: transfers.amount,
      createdAtMs: transfers.createdAtMs,
    })
    .from(transfers)
    .where(or(eq(transfers.fromAccountId, p('id')), eq(transfers.toAccountId, p('id'))))
    .orderBy(transfers.seq)
    .prepare();

  /** Writes outside a transaction would commit without their idempotency record. */
  function assertInTransaction(what: string) {
    if (!db.$client.inTransaction) {
      throw new Error(`${what} must run inside ctx.idempotency.commit(), in its transaction`);
    }
  }

  function mustFind(id: string): Account {
    const account = findAccount.get({ id });
    if (!account) throw new TRPCError({ code: 'NOT_FOUND', message: `account ${id} not found` });
    return account;
  }

  /** Both accounts exist, the payer has the money, the payee's balance stays exact. */
  function check(request: TransferRequest) {
    const from = mustFind(request.fromAccountId);
    const to = mustFind(request.toAccountId);
    if (from.balance < request.amount) {
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: `insufficient funds: account ${from.id} has ${from.balance}, the transfer needs ${request.amount}`,
      });
    }
    if (to.balance + request.amount > Number.MAX_SAFE_INTEGER) {
      throw new TRPCError({
        code: 'PRECONDITION_FAILED',
        message: `account ${to.id} cannot hold more than ${Number.MAX_SAFE_INTEGER}`,
      });
    }
  }

  return {
    getAccount(id: string): Account {
      return mustFind(id);
    },

    /** Transfers touching the account, oldest first. */
    listTransfers(accountId: string): Transfer[] {
      mustFind(accountId);
      return transfersOf.all({ id: accountId }).map(({ createdAtMs, ...transfer }) => ({
        ...transfer,
        createdAt: new Date(createdAtMs).toISOString(),
      }));
    },

    /** Write: creates an account holding `initialBalance`. */
    openAccount(input: { owner: string; initialBalance: number; openedBy: string }): Account {
      assertInTransaction('openAccount');
      const id = newId('acc');
      insertAccount.run({
        id,
        owner: input.owner,
        balance: input.initialBalance,
        openedBy: input.openedBy,
        now: clock(),
      });
      return { id, owner: input.owner, balance: input.initialBalance };
    },

    /**
     * The checks of a transfer, as an early answer before the commit. They can
     * be stale by the time the commit runs, so {@link transfer} repeats them.
     */
    checkTransfer: check,

    /**
     * Write: moves the money, after checking again under the write lock: another
     * transfer may have committed since {@link checkTransfer}.
     */
    transfer(request: TransferRequest & { createdBy: string }): Transfer {
      assertInTransaction('transfer');
      check(request);
      const id = newId('tr');
      const now = clock();
      addToBalance.run({ id: request.fromAccountId, delta: -request.amount });
      addToBalance.run({ id: request.toAccountId, delta: request.amount });
      insertTransfer.run({
        id,
        fromAccountId: request.fromAccountId,
        toAccountId: request.toAccountId,
        amount: request.amount,
        createdBy: request.createdBy,
        now,
      });
      return {
        id,
        fromAccountId: request.fromAccountId,
        toAccountId: request.toAccountId,
        amount: request.amount,
        createdAt: new Date(now).toISOString(),
      };
    },
  };
}

/** The ledger of one database. */
export type Ledger = ReturnType<typeof createLedger>;
