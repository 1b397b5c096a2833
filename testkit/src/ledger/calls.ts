/** What a tRPC-over-HTTP answer was, reduced to what must be identical on every replay. */
export interface Answer {
  /** HTTP status. */
  status: number;
  kind: 'result' | 'error';
  /**
   * `result`: the JSON of `result.data` as the server wrote it. `error`: the
   * JSON of `{ code, message }` (tRPC code name and message).
   */
  body: string;
  /** `error.data.code`, e.g. `PRECONDITION_FAILED`. */
  code?: string;
  /** `error.data.reason`, e.g. `IDEMPOTENCY_KEY_REUSED`. */
  reason?: string;
  /** `error.data.retryAfterMs` of an in-progress conflict. */
  retryAfterMs?: number;
}

interface ErrorShape {
  message?: string;
  data?: { code?: string; httpStatus?: number; reason?: string; retryAfterMs?: number };
}

function answerOfError(status: number, error: ErrorShape): Answer {
  const answer: Answer = {
    status,
    kind: 'error',
    body: JSON.stringify({ code: error.data?.code, message: error.message }),
  };
  if (error.data?.code !== undefined) answer.code = error.data.code;
  if (error.data?.reason !== undefined) answer.reason = error.data.reason;
  if (error.data?.retryAfterMs !== undefined) answer.retryAfterMs = error.data.retryAfterMs;
  return answer;
}

/** Reads one tRPC envelope (an item of a batch answer, or a whole single answer). */
export function answerOf(status: number, envelope: unknown): Answer | undefined {
  if (typeof envelope !== 'object' || envelope === null) return undefined;
  const { result, error } = envelope as { result?: { data?: unknown }; error?: ErrorShape };
  if (result && 'data' in result) {
    return { status, kind: 'result', body: JSON.stringify(result.data) };
  }
  return error ? answerOfError(status, error) : undefined;
}

/** The answer a typed client's `TRPCClientError` carries (its status from `data.httpStatus`). */
export function answerOfClientError(error: ErrorShape): Answer {
  return answerOfError(error.data?.httpStatus ?? 0, error);
}

/** Every attempt of one logical call, and its final answer. */
export interface CallRecord {
  final: Answer;
  /** HTTP attempts made, the first included. */
  attempts: number;
  /** The body of every successful answer seen (all must be equal). */
  successes: string[];
  /** Why attempts were retried: `network`, `502`, `409`, `500`, … */
  retriedFor: Record<string, number>;
}

/** What the checks read of one logical client call: how it ended, and every success it saw. */
export interface SettledCall<TInput = unknown> {
  user: string;
  key: string;
  path: string;
  /** The input without its key. */
  input: TInput;
  record: Pick<CallRecord, 'final' | 'successes'>;
}

/** One logical client call, with everything the client saw. */
export interface ObservedCall<TInput = unknown> extends SettledCall<TInput> {
  record: CallRecord;
}
