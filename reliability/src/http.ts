import { type Answer, answerOf, type CallRecord } from '@ledger/testkit';
import { callBounds } from './callBounds';
import { sleep } from './pool';

/** Whether a client should send the same request again with the same key (the library README's retry rules). */
export function isRetryable(answer: Answer | undefined): boolean {
  if (!answer) return true; // no tRPC answer at all: the network or a proxy failed
  if (answer.status >= 500) return true;
  return (
    answer.code === 'CONFLICT' || answer.code === 'TOO_MANY_REQUESTS' || answer.code === 'TIMEOUT'
  );
}

/** One HTTP attempt as a plain client makes it. */
export interface RawRequest {
  /** The tRPC base URL, `http://127.0.0.1:<port>/trpc`. */
  url: string;
  /** Procedure path, or several joined by `,` for a batch. */
  path: string;
  method?: 'POST' | 'GET';
  /** Sent as `x-user-id` unless undefined. */
  user?: string | undefined;
  /** The raw body (already JSON text, or deliberately not). */
  body?: string;
  /** Appended to the URL, e.g. `?batch=1`. */
  query?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** What came back: the status, the text, and the JSON if it parsed. */
export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** Sends one request; rejects on a network failure or timeout, like `fetch`. */
export async function send(request: RawRequest): Promise<RawResponse> {
  const response = await fetch(`${request.url}/${request.path}${request.query ?? ''}`, {
    method: request.method ?? 'POST',
    headers: {
      ...(request.method === 'GET' ? {} : { 'content-type': 'application/json' }),
      ...(request.user === undefined ? {} : { 'x-user-id': request.user }),
      ...request.headers,
    },
    body: request.method === 'GET' ? undefined : request.body,
    signal: AbortSignal.timeout(request.timeoutMs ?? 10_000),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Options of {@link postUntilFinal}. */
export interface PostUntilFinalOptions {
  /** The current base URL (a restarted server may have a new one). */
  url: () => string;
  path: string;
  /** The input, with its `idempotencyKey`: the same on every attempt. */
  input: Record<string, unknown>;
  user: string;
  /** Jitter source (seeded). */
  random: () => number;
  /** Bounds: attempts and total time. A call that exceeds either fails the test. */
  maxAttempts?: number;
  deadlineMs?: number;
  /** For a server the test keeps killing: when it last became ready; the bounds count from then (`callBounds`). */
  serverUpSince?: () => number;
  attemptTimeoutMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * A plain HTTP client's retry loop: POSTs the same input with the same key
 * until the answer is final (a result, or a 4xx other than an in-progress
 * conflict), with capped exponential backoff and full jitter, honouring
 * `retryAfterMs`. Throws when its bounds run out: a call that never gets a final
 * answer is a failure of the system under test.
 */
export async function postUntilFinal(opts: PostUntilFinalOptions): Promise<CallRecord> {
  // The deadline is the bound: a dead server refuses at once, so an attempts bound alone would
  // measure how fast attempts burn (~125 ms apart at the cap), not how long the server was away.
  const bounds = callBounds({
    maxAttempts: opts.maxAttempts ?? 1000,
    deadlineMs: opts.deadlineMs ?? 60_000,
    serverUpSince: opts.serverUpSince,
  });
  const baseDelayMs = opts.baseDelayMs ?? 10;
  const maxDelayMs = opts.maxDelayMs ?? 250;
  const body = JSON.stringify(opts.input);
  const record: Omit<CallRecord, 'final'> = { attempts: 0, successes: [], retriedFor: {} };
  const history: string[] = [];
  while (bounds.next()) {
    record.attempts++;
    let answer: Answer | undefined;
    let why: string;
    try {
      const response = await send({
        url: opts.url(),
        path: opts.path,
        user: opts.user,
        body,
        timeoutMs: opts.attemptTimeoutMs ?? 10_000,
      });
      answer = answerOf(response.status, response.json);
      why = answer?.code === 'CONFLICT' ? '409' : String(response.status);
    } catch (error) {
      why = (error as Error).name === 'TimeoutError' ? 'timeout' : 'network';
    }
    if (answer?.kind === 'result') record.successes.push(answer.body);
    if (answer && !isRetryable(answer)) return { ...record, final: answer };
    record.retriedFor[why] = (record.retriedFor[why] ?? 0) + 1;
    history.push(why);
    const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(record.attempts - 1, 16));
    await sleep(Math.max(answer?.retryAfterMs ?? 0, opts.random() * cap));
  }
  throw new Error(
    `no final answer for ${opts.path} (key ${String(opts.input['idempotencyKey'])}) after ${bounds.describe()}: ${history.slice(-10).join(', ')}`,
  );
}
