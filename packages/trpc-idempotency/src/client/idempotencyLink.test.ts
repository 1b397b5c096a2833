import { httpLink, type Operation, TRPCClientError } from '@trpc/client';
import { describe, expect, expectTypeOf, test, vi } from 'vitest';
import {
  type TerminatingLink,
  type TestRouter,
  testProcedures,
  testServerResource,
} from '../../test/helpers/testServerResource';
import { IDEMPOTENCY_REASONS } from '../shared/reasons';
import type { IdempotencyLinkOptions, IdempotencyRetryInfo } from './idempotencyLink';
import { idempotencyLink } from './idempotencyLink';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Fast retries unless a test says otherwise. */
const fast = { baseDelayMs: 1, maxDelayMs: 2 } satisfies Partial<IdempotencyLinkOptions>;

async function rejectionOf(promise: Promise<unknown>): Promise<TRPCClientError<TestRouter>> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TRPCClientError);
    return err as TRPCClientError<TestRouter>;
  }
  throw new Error('expected the call to fail');
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe.each<TerminatingLink>(['httpLink', 'httpBatchLink'])('in front of %s', (link) => {
  test('adds one key per call and sends it on every attempt', async () => {
    await using server = await testServerResource();
    const client = server.client({ link, idempotency: fast });

    const result = await client.fail.mutate({ failures: 2, code: 'INTERNAL_SERVER_ERROR' });

    expect(result).toEqual({ attempt: 3 });
    const keys = server.callsTo('fail').map((call) => call.idempotencyKey);
    expect(keys).toHaveLength(3);
    expect(keys[0]).toMatch(UUID);
    expect(new Set(keys).size).toBe(1);
  });

  test('gives each logical call its own key', async () => {
    await using server = await testServerResource();
    const client = server.client({ link });

    await client.echo.mutate({ value: 'a' });
    await client.echo.mutate({ value: 'a' });

    const [first, second] = server.callsTo('echo');
    expect(first?.idempotencyKey).toMatch(UUID);
    expect(second?.idempotencyKey).toMatch(UUID);
    expect(first?.idempotencyKey).not.toBe(second?.idempotencyKey);
  });

  test("keeps the caller's key on every attempt", async () => {
    await using server = await testServerResource();
    const client = server.client({ link, idempotency: fast });
    const idempotencyKey = 'persisted-across-reload-0001';

    await client.fail.mutate({ idempotencyKey, failures: 1, code: 'SERVICE_UNAVAILABLE' });

    expect(server.callsTo('fail').map((call) => call.idempotencyKey)).toEqual([
      idempotencyKey,
      idempotencyKey,
    ]);
  });

  test('sends `{ idempotencyKey }` when the input is undefined', async () => {
    await using server = await testServerResource();
    const client = server.client({ link });

    const result = await client.echo.mutate();

    expect(Object.keys(result ?? {})).toEqual(['idempotencyKey']);
    expect(result?.idempotencyKey).toMatch(UUID);
  });

  test('passes a listed procedure whose input cannot carry a key through untouched', async () => {
    await using server = await testServerResource();
    const client = server.client({
      link,
      idempotency: {
        // A string input cannot carry the brand: only a cast can list it.
        procedures: { ...testProcedures, echoString: true } as typeof testProcedures,
      },
    });

    expect(await client.echoString.mutate('plain')).toBe('plain');
  });

  test('makes UUIDs where `crypto.randomUUID` is missing (plain-HTTP pages)', async () => {
    await using server = await testServerResource();
    const client = server.client({ link });
    const { getRandomValues } = globalThis.crypto;
    vi.stubGlobal('crypto', { getRandomValues: getRandomValues.bind(globalThis.crypto) });
    try {
      await client.echo.mutate({ value: 'a' });
      await client.echo.mutate({ value: 'a' });
    } finally {
      vi.unstubAllGlobals();
    }

    const [first, second] = server.callsTo('echo').map((call) => call.idempotencyKey);
    expect(first).toMatch(UUID);
    expect(second).toMatch(UUID);
    expect(first).not.toBe(second);
  });

  test('uses `generateKey`', async () => {
    await using server = await testServerResource();
    let n = 0;
    const client = server.client({
      link,
      idempotency: { generateKey: (op) => `${op.path}-key-${++n}-0000000000` },
    });

    await client.echo.mutate({ value: 'x' });

    expect(server.callsTo('echo')[0]?.idempotencyKey).toBe('echo-key-1-0000000000');
  });

  test('leaves queries alone: no key, no retry', async () => {
    await using server = await testServerResource();
    const client = server.client({ link, idempotency: fast });

    expect(await client.read.query({ value: 'v' })).toEqual({ value: 'v' });
    const err = await rejectionOf(client.failingRead.query());

    expect(err.data?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(server.callsTo('read')[0]?.idempotencyKey).toBeUndefined();
    expect(server.callsTo('failingRead')).toHaveLength(1);
  });

  test('a plain mutation that fails with a 500 runs once, without a key', async () => {
    await using server = await testServerResource();
    const client = server.client({ link, idempotency: fast });

    const err = await rejectionOf(client.plain.mutate({ value: 'v', failures: 9 }));

    expect(err.data?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(server.callsTo('plain')).toEqual([
      expect.objectContaining({ idempotencyKey: undefined, input: { value: 'v', failures: 9 } }),
    ]);
    expect(server.requests).toHaveLength(1);
  });

  test('a plain mutation is not retried after a network failure either', async () => {
    await using server = await testServerResource();
    const client = server.client({ link, idempotency: fast });
    server.injectFaults('lostResponse');

    await rejectionOf(client.plain.mutate({ value: 'v' }));

    expect(server.callsTo('plain')).toHaveLength(1);
    expect(server.requests).toHaveLength(1);
  });

  test('a plain mutation with a strict input works: no key is added to it', async () => {
    await using server = await testServerResource();
    const client = server.client({ link });

    expect(await client.plainStrict.mutate({ value: 'v' })).toEqual({ value: 'v' });
    expect(server.callsTo('plainStrict')[0]?.input).toEqual({ value: 'v' });
  });

  test('a procedure left out of `procedures` passes untouched', async () => {
    await using server = await testServerResource();
    const client = server.client({
      link,
      idempotency: { ...fast, procedures: { echo: true } as typeof testProcedures },
    });

    const err = await rejectionOf(
      client.fail.mutate({ failures: 9, code: 'INTERNAL_SERVER_ERROR' }),
    );

    expect(err.data?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(server.callsTo('fail')).toEqual([
      expect.objectContaining({ idempotencyKey: undefined }),
    ]);
  });

  describe('retries with the same key', () => {
    test.each([
      { code: 'INTERNAL_SERVER_ERROR' },
      { code: 'NOT_IMPLEMENTED' },
      { code: 'BAD_GATEWAY' },
      { code: 'SERVICE_UNAVAILABLE' },
      { code: 'GATEWAY_TIMEOUT' },
      { code: 'TIMEOUT' },
      { code: 'TOO_MANY_REQUESTS' },
      { code: 'CONFLICT', reason: IDEMPOTENCY_REASONS.inProgress, retryAfterMs: 1 },
    ])('$code $reason', async (failure) => {
      await using server = await testServerResource();
      const client = server.client({ link, idempotency: fast });

      const result = await client.fail.mutate({ ...failure, failures: 2 });

      expect(result).toEqual({ attempt: 3 });
      expect(new Set(server.callsTo('fail').map((call) => call.idempotencyKey)).size).toBe(1);
    });

    test.each([
      { faults: ['reset', 'reset'] as const, executions: 1 },
      { faults: ['badGateway', 'badGateway'] as const, executions: 1 },
      { faults: ['lostResponse'] as const, executions: 2 },
    ])('network failure: $faults', async ({ faults, executions }) => {
      await using server = await testServerResource();
      const client = server.client({ link, idempotency: fast });
      server.injectFaults(...faults);

      const result = await client.echo.mutate({ value: 'v' });

      expect(result?.value).toBe('v');
      expect(server.requests).toHaveLength(faults.length + 1);
      const keys = server.callsTo('echo').map((call) => call.idempotencyKey);
      expect(keys).toHaveLength(executions);
      expect(keys.every((key) => key === result?.idempotencyKey)).toBe(true);
    });
  });

  describe('never retries', () => {
    test.each([
      { code: 'BAD_REQUEST' },
      { code: 'BAD_REQUEST', reason: IDEMPOTENCY_REASONS.keyInvalid },
      { code: 'UNPROCESSABLE_CONTENT', reason: IDEMPOTENCY_REASONS.keyReused },
      { code: 'CONFLICT' },
      { code: 'PRECONDITION_FAILED' },
      { code: 'NOT_FOUND' },
      { code: 'UNAUTHORIZED' },
      { code: 'FORBIDDEN' },
      { code: 'CLIENT_CLOSED_REQUEST' },
      { code: 'INTERNAL_SERVER_ERROR', reason: IDEMPOTENCY_REASONS.responseNotStorable },
    ])('$code $reason', async (failure) => {
      await using server = await testServerResource();
      const client = server.client({ link, idempotency: fast });

      const err = await rejectionOf(client.fail.mutate({ ...failure, failures: 9 }));

      expect(err.data?.code).toBe(failure.code);
      expect((err.data as { reason?: string }).reason).toBe(failure.reason);
      expect(server.callsTo('fail')).toHaveLength(1);
    });
  });

  test('stops after `maxAttempts` with the last error', async () => {
    await using server = await testServerResource();
    const client = server.client({ link, idempotency: { ...fast, maxAttempts: 3 } });

    const err = await rejectionOf(client.fail.mutate({ failures: 9, code: 'BAD_GATEWAY' }));

    expect(err.message).toBe('attempt 3 failed');
    expect(server.callsTo('fail')).toHaveLength(3);
  });

  test('gives up on network failures after `maxAttempts`', async () => {
    await using server = await testServerResource();
    const client = server.client({ link, idempotency: { ...fast, maxAttempts: 2 } });
    server.injectFaults('reset', 'reset', 'reset');

    const err = await rejectionOf(client.echo.mutate({ value: 'v' }));

    expect(err.data).toBeUndefined();
    expect(server.requests).toHaveLength(2);
  });

  test('tells `onRetry` about each retry', async () => {
    await using server = await testServerResource();
    const retries: IdempotencyRetryInfo<TestRouter>[] = [];
    const client = server.client({
      link,
      idempotency: { ...fast, onRetry: (info) => retries.push(info) },
    });

    await client.fail.mutate({ failures: 3, code: 'INTERNAL_SERVER_ERROR' });

    const key = server.callsTo('fail')[0]?.idempotencyKey;
    expect(retries.map((info) => info.attempt)).toEqual([2, 3, 4]);
    expect(retries.map((info) => info.error.message)).toEqual([
      'attempt 1 failed',
      'attempt 2 failed',
      'attempt 3 failed',
    ]);
    for (const info of retries) {
      expect(info.idempotencyKey).toBe(key);
      expect(info.op.path).toBe('fail');
      expect((info.op.input as { idempotencyKey: string }).idempotencyKey).toBe(key);
      expect(info.error).toBeInstanceOf(TRPCClientError);
    }
  });
});

/** A client of `server` that records each retry's delay; `random() === 0` unless `idempotency` says. */
function recordingClient(
  server: Awaited<ReturnType<typeof testServerResource>>,
  link: TerminatingLink,
  idempotency: Partial<IdempotencyLinkOptions<TestRouter>> = {},
) {
  const delays: number[] = [];
  const client = server.client({
    link,
    idempotency: {
      random: () => 0,
      ...idempotency,
      onRetry: (info) => delays.push(info.delayMs),
    },
  });
  return { client, delays };
}

describe('backoff', () => {
  test('full jitter: `random() === 0` retries at once', async () => {
    await using server = await testServerResource();
    const { client, delays } = recordingClient(server, 'httpLink');

    await client.fail.mutate({ failures: 4, code: 'INTERNAL_SERVER_ERROR' });

    expect(delays).toEqual([0, 0, 0, 0]);
  });

  test('`random() === 1` waits the exponential bound, capped by `maxDelayMs`', async () => {
    await using server = await testServerResource();
    const { client, delays } = recordingClient(server, 'httpLink', {
      random: () => 1,
      baseDelayMs: 10,
      maxDelayMs: 25,
    });

    const startedAt = performance.now();
    await rejectionOf(client.fail.mutate({ failures: 9, code: 'INTERNAL_SERVER_ERROR' }));

    expect(delays).toEqual([10, 20, 25, 25]);
    const at = server.callsTo('fail').map((call) => call.at);
    for (const [i, delay] of delays.entries()) {
      expect(at[i + 1]! - at[i]!).toBeGreaterThanOrEqual(delay - 1);
    }
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(79);
  });

  test.each<TerminatingLink>(['httpLink', 'httpBatchLink'])(
    'waits at least the `retryAfterMs` hint (%s)',
    async (link) => {
      await using server = await testServerResource();
      const { client, delays } = recordingClient(server, link);

      await client.fail.mutate({
        failures: 1,
        code: 'CONFLICT',
        reason: IDEMPOTENCY_REASONS.inProgress,
        retryAfterMs: 120,
      });

      expect(delays).toEqual([120]);
      const [first, second] = server.callsTo('fail');
      // Timers may fire up to 1 ms early when rounded; anything near 0 means the hint was ignored.
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(119);
    },
  );

  test('falls back to the `Retry-After` header', async () => {
    await using server = await testServerResource();
    const { client, delays } = recordingClient(server, 'httpLink');

    await client.fail.mutate({
      failures: 1,
      code: 'CONFLICT',
      reason: IDEMPOTENCY_REASONS.inProgress,
      retryAfterHeader: '1',
    });

    expect(delays).toEqual([1000]);
    const [first, second] = server.callsTo('fail');
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(999);
  });
});

describe('deadline', () => {
  test('starts no attempt and no wait past `deadlineMs`', async () => {
    await using server = await testServerResource();
    const { client, delays } = recordingClient(server, 'httpLink', {
      random: () => 1,
      baseDelayMs: 40,
      deadlineMs: 100,
    });

    const err = await rejectionOf(
      client.fail.mutate({ failures: 9, code: 'INTERNAL_SERVER_ERROR' }),
    );

    // Attempt 1 at 0 ms, attempt 2 after 40 ms; the next wait (80 ms, capped to
    // what is left) would end at the deadline, so the call fails at once.
    expect(err.message).toBe('attempt 2 failed');
    expect(delays).toEqual([40]);
    expect(server.callsTo('fail')).toHaveLength(2);
  });

  test('gives up at once when the hint is past the deadline', async () => {
    await using server = await testServerResource();
    const { client, delays } = recordingClient(server, 'httpLink', { deadlineMs: 200 });

    const startedAt = performance.now();
    const err = await rejectionOf(
      client.fail.mutate({
        failures: 9,
        code: 'CONFLICT',
        reason: IDEMPOTENCY_REASONS.inProgress,
        retryAfterMs: 500,
      }),
    );

    expect(err.data?.code).toBe('CONFLICT');
    expect(delays).toEqual([]);
    expect(server.callsTo('fail')).toHaveLength(1);
    // Waiting the hint would take 500 ms.
    expect(performance.now() - startedAt).toBeLessThan(500);
  });
});

describe('abort', () => {
  test('before the call: no attempt at all', async () => {
    await using server = await testServerResource();
    const client = server.client({ link: 'httpLink', idempotency: fast });
    const ac = new AbortController();
    ac.abort();

    const err = await rejectionOf(
      client.fail.mutate({ failures: 9, code: 'INTERNAL_SERVER_ERROR' }, { signal: ac.signal }),
    );

    expect(err.cause?.name).toBe('AbortError');
    await sleep(20);
    expect(server.requests).toHaveLength(0);
  });

  test.each<TerminatingLink>(['httpLink', 'httpBatchLink'])(
    'during the wait: fails at once, no further attempt (%s)',
    async (link) => {
      await using server = await testServerResource();
      const ac = new AbortController();
      const client = server.client({
        link,
        idempotency: {
          random: () => 1,
          baseDelayMs: 300,
          onRetry: () => setTimeout(() => ac.abort(), 10),
        },
      });

      const startedAt = performance.now();
      const err = await rejectionOf(
        client.fail.mutate({ failures: 9, code: 'INTERNAL_SERVER_ERROR' }, { signal: ac.signal }),
      );

      expect(performance.now() - startedAt).toBeLessThan(250);
      expect(err.cause?.name).toBe('AbortError');
      await sleep(350);
      expect(server.callsTo('fail')).toHaveLength(1);
    },
  );

  /** A call that fails slowly, and a signal that aborts it while it runs. */
  const slowFailure = { failures: 9, code: 'INTERNAL_SERVER_ERROR', delayMs: 100 } as const;
  const abortIn = (ms: number) => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), ms);
    return ac.signal;
  };

  test('during an attempt: the aborted request is not retried', async () => {
    await using server = await testServerResource();
    const client = server.client({ link: 'httpLink', idempotency: fast });

    const err = await rejectionOf(client.fail.mutate(slowFailure, { signal: abortIn(30) }));

    expect(err.cause?.name).toBe('AbortError');
    await sleep(150);
    expect(server.callsTo('fail')).toHaveLength(1);
  });

  test('in a batch that goes on: the call fails with its result, no retry', async () => {
    await using server = await testServerResource();
    const client = server.client({ link: 'httpBatchLink', idempotency: fast });

    const [failed, echoed] = await Promise.allSettled([
      client.fail.mutate(slowFailure, { signal: abortIn(30) }),
      client.echo.mutate({ value: 'v' }),
    ]);

    // The batch is only aborted when all its calls are, so the aborted call
    // still gets its 500; retrying it would ignore the caller's abort.
    expect(failed.status === 'rejected' && failed.reason.data?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(echoed.status).toBe('fulfilled');
    await sleep(50);
    expect(server.callsTo('fail')).toHaveLength(1);
  });

  test.each([
    { when: 'during the wait', fromHook: false },
    { when: 'from `onRetry`', fromHook: true },
  ])('unsubscribing $when cancels the pending retry', async ({ fromHook }) => {
    await using server = await testServerResource();
    const events: string[] = [];
    let subscription: { unsubscribe: () => void } | undefined;
    const retried = new Promise<void>((resolve) => {
      const link = idempotencyLink<TestRouter>({
        procedures: testProcedures,
        random: () => 1,
        baseDelayMs: 50,
        onRetry: () => {
          if (fromHook) subscription?.unsubscribe();
          resolve();
        },
      })({});
      const terminating = httpLink<TestRouter>({ url: server.url })({});
      const op: Operation = {
        id: 1,
        type: 'mutation',
        path: 'fail',
        input: { failures: 9, code: 'INTERNAL_SERVER_ERROR' },
        context: {},
        signal: undefined,
      };
      subscription = link({
        op,
        next: (attemptOp) =>
          terminating({
            op: attemptOp,
            next: () => {
              throw new Error('a terminating link calls no next link');
            },
          }),
      }).subscribe({
        next: () => events.push('next'),
        error: () => events.push('error'),
        complete: () => events.push('complete'),
      });
    });

    await retried;
    subscription?.unsubscribe();
    await sleep(120);

    expect(server.callsTo('fail')).toHaveLength(1);
    expect(events).toEqual([]);
  });
});

describe('batching', () => {
  test('retries only the failed call of a batch', async () => {
    await using server = await testServerResource();
    const client = server.client({ link: 'httpBatchLink', idempotency: fast });

    const [echoed, failed] = await Promise.all([
      client.echo.mutate({ value: 'v' }),
      client.fail.mutate({ failures: 1, code: 'INTERNAL_SERVER_ERROR' }),
    ]);

    expect(echoed?.value).toBe('v');
    expect(failed).toEqual({ attempt: 2 });
    expect(server.requests.map((url) => url.split('?')[0])).toEqual(['/echo,fail', '/fail']);
    const [echoCall] = server.callsTo('echo');
    const failKeys = server.callsTo('fail').map((call) => call.idempotencyKey);
    expect(failKeys[0]).toBe(failKeys[1]);
    expect(echoCall?.idempotencyKey).not.toBe(failKeys[0]);
  });

  test('two calls sharing one key both keep it, through a dropped batch', async () => {
    await using server = await testServerResource();
    const client = server.client({ link: 'httpBatchLink', idempotency: fast });
    server.injectFaults('reset');
    const idempotencyKey = 'shared-key-in-one-batch-01';

    const results = await Promise.all([
      client.echo.mutate({ idempotencyKey, value: 'same' }),
      client.echo.mutate({ idempotencyKey, value: 'same' }),
    ]);

    expect(results).toEqual([
      { idempotencyKey, value: 'same' },
      { idempotencyKey, value: 'same' },
    ]);
    expect(server.requests[0]?.split('?')[0]).toBe('/echo,echo');
    expect(server.callsTo('echo').map((call) => call.idempotencyKey)).toEqual([
      idempotencyKey,
      idempotencyKey,
    ]);
  });
});

test('a throwing `onRetry` fails the call instead of hanging it', async () => {
  await using server = await testServerResource();
  const client = server.client({
    link: 'httpLink',
    idempotency: {
      ...fast,
      onRetry: () => {
        throw new Error('hook bug');
      },
    },
  });

  const err = await rejectionOf(client.fail.mutate({ failures: 9, code: 'INTERNAL_SERVER_ERROR' }));

  expect(err.message).toBe('hook bug');
  expect(server.callsTo('fail')).toHaveLength(1);
});

test('options are typed by the router', () => {
  expectTypeOf<IdempotencyRetryInfo<TestRouter>['error']['data']>().toEqualTypeOf<
    TRPCClientError<TestRouter>['data']
  >();
  expectTypeOf(idempotencyLink<TestRouter>)
    .parameter(0)
    .toEqualTypeOf<IdempotencyLinkOptions<TestRouter>>();
});

describe('`procedures` is checked at runtime too', () => {
  test.each([
    { procedures: undefined, message: /`procedures` must list/ },
    { procedures: null, message: /`procedures` must list/ },
    { procedures: ['echo'], message: /`procedures` must list/ },
    { procedures: { echo: 'yes' }, message: /procedures\["echo"\] must be true, got yes/ },
  ])('$procedures', ({ procedures, message }) => {
    expect(() => idempotencyLink({ procedures } as never)).toThrow(message);
  });

  test('without options', () => {
    expect(() => (idempotencyLink as (opts?: unknown) => unknown)()).toThrow(
      /`procedures` must list/,
    );
  });
});
