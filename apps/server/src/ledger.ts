import { randomBytes } from 'node:crypto';
import { TRPCError } from '@trpc/server';
import type { AnyIdempotencyStore, inferIdempotencyHandle } from 'trpc-idempotency';

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

/** What a transfer moves; checked before the commit where that is cheap, and again inside it. */
export interface TransferRequest {
  fromAccountId: string;
  toAccountId: string;
  amount: number;
}

/** A new account's owner and money, and the `x-user-id` that asked for it. */
export interface OpenAccountRequest {
  owner: string;
  initialBalance: number;
  openedBy: string;
}

/** What a payout takes out of an account. */
export interface PayoutRequest {
  accountId: string;
  amount: number;
}

/** A payout's reservation: money taken out of the account's balance and held for the payout. */
export interface PayoutHold {
  id: string;
  accountId: string;
  amount: number;
}

/**
 * What a payout's reservation found or made: its hold and, when that hold
 * was settled already, the payout recorded for it (the key paid out before:
 * its idempotency record expired, or was released after the payout was
 * recorded), which is then the answer, without asking the gateway again.
 */
export interface PayoutReservation {
  hold: PayoutHold;
  recorded: Payout | null;
}

/** A payout as the API returns it: made by the gateway and recorded on the ledger. */
export interface Payout {
  id: string;
  accountId: string;
  amount: number;
  /** The gateway's id of the payout. */
  gatewayPayoutId: string;
  status: 'completed';
}

/**
 * What a ledger write needs of `ctx.idempotency`: its `commit`, which runs the
 * write in the transaction that also completes the idempotency record. Typed
 * for any store: each ledger knows its own transaction handle, and the router
 * only hands the execution on.
 */
export type LedgerExecution = Pick<
  inferIdempotencyHandle<AnyIdempotencyStore, 'transactional'>,
  'commit'
>;

/**
 * The ledger's reads and writes, one implementation per database: SQLite
 * (`sqlite/ledger.ts`: synchronous writes on the one connection) and Postgres
 * (`pg/ledger.ts`: asynchronous writes under row locks, for several
 * processes). Both answer with the same values and the same errors, so the
 * router is written once above them.
 */
export interface Ledger {
  readonly dialect: 'sqlite' | 'postgres' | 'mysql';
  /** The account, or NOT_FOUND. */
  getAccount(id: string): Promise<Account>;
  /** Transfers touching the account, oldest first; NOT_FOUND for an unknown account. */
  listTransfers(accountId: string): Promise<Transfer[]>;
  /**
   * The checks of a transfer as an early answer (NOT_FOUND, PRECONDITION_FAILED)
   * before the commit, where the ledger can make them cheaply. They can be
   * stale by the time the commit runs, so {@link transfer} repeats them.
   */
  checkTransfer(request: TransferRequest): Promise<void>;
  /** Write: creates an account holding `initialBalance`, in the execution's commit. */
  openAccount(execution: LedgerExecution, request: OpenAccountRequest): Promise<Account>;
  /**
   * Write: checks again, under the lock the commit holds, then moves the money
   * and records the transfer, in the execution's commit. A refusal thrown there
   * rolls the writes back and is stored as the key's final answer.
   */
  transfer(
    execution: LedgerExecution,
    request: TransferRequest & { createdBy: string },
  ): Promise<Transfer>;
  /**
   * Write, in a transaction of its own: moves `amount` from the account's
   * balance into a hold (NOT_FOUND, PRECONDITION_FAILED, nothing written).
   * Idempotent per `holdKey`: when a hold with that key exists, it is
   * returned, with its payout if it was recorded, and nothing moves
   * (UNPROCESSABLE_CONTENT if it was made for another account or amount).
   */
  reservePayout(
    request: PayoutRequest & { holdKey: string; createdBy: string },
  ): Promise<PayoutReservation>;
  /**
   * Write, in a transaction of its own: settles the hold and records the
   * gateway's payout. Idempotent per hold: a payout already recorded for it
   * is returned as it is.
   */
  recordPayout(request: {
    hold: PayoutHold;
    gatewayPayoutId: string;
    createdBy: string;
  }): Promise<Payout>;
}

/** A new id such as `acc_3f9c0e1a7b2d4c58`: a prefix and 64 random bits. */
export function newId(prefix: 'acc' | 'tr' | 'hold' | 'po') {
  return `${prefix}_${randomBytes(8).toString('hex')}`;
}

/** The NOT_FOUND every ledger answers for an unknown account. */
export function accountNotFound(id: string) {
  return new TRPCError({ code: 'NOT_FOUND', message: `account ${id} not found` });
}

/**
 * The checks of a transfer on the two accounts as read (`undefined`: no such
 * account), with the same errors and messages on every database: both exist,
 * the payer has the money, the payee's balance stays exact.
 */
export function assertTransferPossible(
  request: TransferRequest,
  found: { from: Account | undefined; to: Account | undefined },
) {
  const { from, to } = found;
  if (!from) throw accountNotFound(request.fromAccountId);
  if (!to) throw accountNotFound(request.toAccountId);
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

/** A transfer row as the API answers it. */
export function toTransfer(row: {
  id: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  createdAtMs: number;
}): Transfer {
  return {
    id: row.id,
    fromAccountId: row.fromAccountId,
    toAccountId: row.toAccountId,
    amount: row.amount,
    createdAt: new Date(row.createdAtMs).toISOString(),
  };
}

/**
 * A reservation already made with this hold key: returned as it is when it is
 * for the same account and amount (a step run again after a crash). Anything
 * else means the key was first used for another payout; the library's own
 * check (422) cannot see that once a transient failure released the record,
 * so the ledger refuses it the same way.
 */
export function sameHold(found: PayoutHold, request: PayoutRequest): PayoutHold {
  if (found.accountId !== request.accountId || found.amount !== request.amount) {
    throw new TRPCError({
      code: 'UNPROCESSABLE_CONTENT',
      message: `this idempotencyKey first reserved ${found.amount} from account ${found.accountId} for a payout; use a new key for another payout`,
    });
  }
  return { id: found.id, accountId: found.accountId, amount: found.amount };
}

/** The PRECONDITION_FAILED of a payout larger than the account's balance, alike on every database. */
export function assertPayoutPossible(request: PayoutRequest, account: Account | undefined) {
  if (!account) throw accountNotFound(request.accountId);
  if (account.balance < request.amount) {
    throw new TRPCError({
      code: 'PRECONDITION_FAILED',
      message: `insufficient funds: account ${account.id} has ${account.balance}, the payout needs ${request.amount}`,
    });
  }
}

/** A recorded payout row as the API answers it. */
export function toPayout(row: {
  id: string;
  accountId: string;
  amount: number;
  gatewayPayoutId: string;
}): Payout {
  return {
    id: row.id,
    accountId: row.accountId,
    amount: row.amount,
    gatewayPayoutId: row.gatewayPayoutId,
    status: 'completed',
  };
}
