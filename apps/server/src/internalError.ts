import { randomUUID } from 'node:crypto';
import type { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { getIdempotencyErrorData, IDEMPOTENCY_REASONS } from 'trpc-idempotency';

const requestIds = new WeakMap<TRPCError, string>();
const forCallers = new WeakSet<TRPCError>();

/**
 * Marks a 5xx whose message was written for the caller (it says what
 * happened and what to do, and names no internals): answered as it is, not
 * as an internal error. Returns `error`.
 */
export function callerFacing(error: TRPCError): TRPCError {
  forCallers.add(error);
  return error;
}

/**
 * Whether `error` is an internal failure whose details stay on the server: a
 * 5xx that is not a deliberate idempotency error written for the caller (an
 * unstorable response says why), or the idempotency store failing (its reason
 * stays in the answer, for the client to branch on). A database error's
 * message holds its SQL and bound parameters (scope, key, the owner token), a
 * stack the code's layout: callers get {@link internalErrorMessage} instead,
 * unless the error is marked {@link callerFacing}.
 */
export function isInternalError(error: TRPCError): boolean {
  if (getHTTPStatusCodeFromError(error) < 500 || forCallers.has(error)) return false;
  const reason = getIdempotencyErrorData(error)?.reason;
  return reason === undefined || reason === IDEMPOTENCY_REASONS.storeUnavailable;
}

/**
 * The id that ties an internal error's answer to its log line: made on first
 * use, the same for the error formatter and `onError`, which tRPC hands the
 * same error object.
 */
export function requestIdOf(error: TRPCError): string {
  let id = requestIds.get(error);
  if (id === undefined) {
    id = randomUUID();
    requestIds.set(error, id);
  }
  return id;
}

/** What a caller reads instead of an internal error's own message. */
export function internalErrorMessage(error: TRPCError): string {
  return `internal error; request id ${requestIdOf(error)}`;
}

/**
 * `name: message` of each cause under `error`, outermost first (at most 5):
 * a Drizzle query error's message holds the SQL and its parameters, and its
 * own cause the database's reason (`violates check constraint …`).
 */
export function causesOf(error: Error): string[] {
  const causes: string[] = [];
  let cause: unknown = error.cause;
  while (cause instanceof Error && causes.length < 5) {
    causes.push(`${cause.name}: ${cause.message}`);
    cause = cause.cause;
  }
  return causes;
}
