import { TRPCClientError } from '@trpc/client';
import {
  getIdempotencyReason,
  IDEMPOTENCY_REASONS,
  isRetryableError,
} from 'trpc-idempotency/client';

/** Exit codes of the command-line client. */
export const EXIT = {
  ok: 0,
  /** The server said no (a 4xx): insufficient funds, not found, invalid input… */
  refused: 1,
  usage: 2,
  /** Could not reach the server, or it kept failing until the retries ran out. */
  unavailable: 3,
  /** The demo found a discrepancy. */
  discrepancy: 4,
} as const;

/** What went wrong, for a person, and the exit code it maps to. */
export interface Explanation {
  exitCode: (typeof EXIT)[keyof typeof EXIT];
  message: string;
  /** True when the operation may or may not have happened (the same key settles it). */
  outcomeUnknown: boolean;
}

interface ErrorData {
  code?: string;
  httpStatus?: number;
}

function dataOf(error: unknown): ErrorData | undefined {
  return error instanceof TRPCClientError ? (error.data as ErrorData | undefined) : undefined;
}

/** The messages of an error and its causes: `fetch failed: other side closed`. */
function causeChain(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    if (current.message && !messages.includes(current.message)) messages.push(current.message);
    current = current.cause;
  }
  return messages.join(': ') || String(error);
}

/** A one-line account of a failed attempt, for retry notices: `HTTP 502`, `409 CONFLICT`… */
export function describeAttemptFailure(error: unknown): string {
  const data = dataOf(error);
  if (data?.code) {
    const reason = getIdempotencyReason(error);
    return `${data.httpStatus ?? '?'} ${data.code}${reason ? ` (${reason})` : ''}`;
  }
  const response = error instanceof TRPCClientError ? error.meta?.['response'] : undefined;
  if (response instanceof Response && !response.ok)
    return `HTTP ${response.status} without a tRPC answer`;
  return causeChain(error);
}

/** Explains a failed call in words, and picks the exit code. */
export function explainError(error: unknown, opts: { url: string }): Explanation {
  const data = dataOf(error);
  const status = data?.httpStatus;
  const reason = getIdempotencyReason(error);
  const serverMessage = error instanceof Error ? error.message : String(error);

  if (reason === IDEMPOTENCY_REASONS.inProgress) {
    return {
      exitCode: EXIT.unavailable,
      outcomeUnknown: true,
      message:
        'the same operation is still running on the server, and the retries ran out waiting for it',
    };
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return {
      exitCode: EXIT.refused,
      outcomeUnknown: false,
      message: refusal(data!, reason, serverMessage),
    };
  }
  if (status !== undefined) {
    return {
      exitCode: EXIT.unavailable,
      outcomeUnknown: isRetryableError(error),
      message: `the server failed (${status} ${data?.code}: ${serverMessage})`,
    };
  }
  return {
    exitCode: EXIT.unavailable,
    outcomeUnknown: true,
    message: `could not get an answer from ${opts.url} (${describeAttemptFailure(error)})`,
  };
}

function refusal(data: ErrorData, reason: string | undefined, message: string) {
  if (reason === IDEMPOTENCY_REASONS.keyReused) {
    return 'this idempotency key was already used for a different operation; use a new key (or leave out --key)';
  }
  if (reason === IDEMPOTENCY_REASONS.keyInvalid)
    return `the idempotency key was refused: ${message}`;
  switch (data.code) {
    case 'UNAUTHORIZED':
      return 'the server needs to know who you are: pass --user NAME or set LEDGER_USER';
    case 'PRECONDITION_FAILED':
      return `refused: ${message}`;
    case 'NOT_FOUND':
      return message;
    case 'BAD_REQUEST':
      return `the server rejected the request: ${message}`;
    default:
      return `the server refused (${data.httpStatus} ${data.code}): ${message}`;
  }
}
