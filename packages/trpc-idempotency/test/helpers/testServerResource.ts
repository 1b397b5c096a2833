/**
 * Test-only: a real tRPC HTTP server on port 0 whose procedures fail on demand,
 * and clients wired to it through `idempotencyLink`. Not part of the client
 * entry (nothing in `index.ts` reaches it), so it may use Node.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import type { TRPC_ERROR_CODE_KEY } from '@trpc/server';
import { initTRPC, TRPCError } from '@trpc/server';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { z } from 'zod';
import { type IdempotencyLinkOptions, idempotencyLink } from '../../src/client/idempotencyLink';
import type { IdempotencyKeyInput, IdempotentProcedures } from '../../src/shared/idempotentInput';

/**
 * What the server library attaches to its idempotency errors; the test
 * router's error formatter copies it into `error.data` the same way.
 */
class SimulatedFailure extends Error {
  constructor(
    readonly reason: string | undefined,
    readonly retryAfterMs: number | undefined,
    readonly retryAfterHeader: string | undefined,
  ) {
    super('simulated failure');
  }
}

const t = initTRPC.create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    if (!(cause instanceof SimulatedFailure) || cause.reason === undefined) return shape;
    return {
      ...shape,
      data: {
        ...shape.data,
        reason: cause.reason,
        ...(cause.retryAfterMs === undefined ? {} : { retryAfterMs: cause.retryAfterMs }),
      },
    };
  },
});

/** One execution of a procedure, as the server saw it. */
export interface ProcedureCall {
  path: string;
  idempotencyKey: string | undefined;
  input: unknown;
  /** `performance.now()` when the handler started. */
  at: number;
}

/**
 * How the next HTTP request fails before tRPC answers: `reset` drops the
 * connection before the handler runs; `badGateway` answers like a proxy, with an
 * HTML 502; `lostResponse` runs the handler, then drops the connection instead
 * of answering.
 */
export type NetworkFault = 'reset' | 'badGateway' | 'lostResponse';

const failInput = z.object({
  idempotencyKey: z.string().optional(),
  /** Attempts with this key that fail before one succeeds. */
  failures: z.number().int(),
  code: z.string(),
  reason: z.string().optional(),
  retryAfterMs: z.number().optional(),
  retryAfterHeader: z.string().optional(),
  /** How long the handler works before answering, in ms. */
  delayMs: z.number().optional(),
});

/**
 * A parser typed as `idempotentProcedure`'s inputs are (its input type
 * carries the brand), that parses as `schema` does: the test server records
 * exactly what arrives, key or not, instead of checking it.
 */
function idempotentInput<TSchema extends z.ZodType>(schema: TSchema) {
  return schema as unknown as z.ZodType<z.output<TSchema>, z.input<TSchema> & IdempotencyKeyInput>;
}

function createRouter(calls: ProcedureCall[]) {
  const attemptsByKey = new Map<string, number>();
  function record(path: string, input: unknown) {
    const key = (input as { idempotencyKey?: string } | undefined)?.idempotencyKey;
    calls.push({ path, idempotencyKey: key, input, at: performance.now() });
  }
  return t.router({
    echo: t.procedure
      .input(
        z
          .object({ idempotencyKey: z.string().optional(), value: z.string().optional() })
          .optional() as unknown as z.ZodType<
          { idempotencyKey?: string; value?: string } | undefined,
          ({ value?: string } & IdempotencyKeyInput) | undefined
        >,
      )
      .mutation(({ input }) => {
        record('echo', input);
        return input ?? null;
      }),
    echoString: t.procedure.input(z.string()).mutation(({ input }) => {
      record('echoString', input);
      return input;
    }),
    /** A plain mutation: not idempotent, fails with a 500 while `failures` lasts. */
    plain: t.procedure
      .input(z.object({ value: z.string(), failures: z.number().int().optional() }))
      .mutation(({ input }) => {
        record('plain', input);
        if (calls.filter((call) => call.path === 'plain').length <= (input.failures ?? 0)) {
          throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR', message: 'plain failure' });
        }
        return input;
      }),
    /** A plain mutation whose input refuses unknown fields, as `z.strictObject` does. */
    plainStrict: t.procedure.input(z.strictObject({ value: z.string() })).mutation(({ input }) => {
      record('plainStrict', input);
      return input;
    }),
    fail: t.procedure.input(idempotentInput(failInput)).mutation(async ({ input }) => {
      record('fail', input);
      const attempt = (attemptsByKey.get(input.idempotencyKey ?? '') ?? 0) + 1;
      attemptsByKey.set(input.idempotencyKey ?? '', attempt);
      if (input.delayMs) await new Promise((resolve) => setTimeout(resolve, input.delayMs));
      if (attempt <= input.failures) {
        throw new TRPCError({
          code: input.code as TRPC_ERROR_CODE_KEY,
          message: `attempt ${attempt} failed`,
          cause: new SimulatedFailure(input.reason, input.retryAfterMs, input.retryAfterHeader),
        });
      }
      return { attempt };
    }),
    read: t.procedure
      .input(z.object({ value: z.string(), idempotencyKey: z.string().optional() }))
      .query(({ input }) => {
        record('read', input);
        return input;
      }),
    failingRead: t.procedure.query(() => {
      record('failingRead', undefined);
      throw new TRPCError({ code: 'INTERNAL_SERVER_ERROR' });
    }),
  });
}

/** The router of the test server. */
export type TestRouter = ReturnType<typeof createRouter>;

/** The test router's idempotent mutations, as a client states them. */
export const testProcedures = { echo: true, fail: true } satisfies IdempotentProcedures<TestRouter>;

/** The terminating links the client can use. */
export type TerminatingLink = 'httpLink' | 'httpBatchLink';

/**
 * Starts the test server. Dispose it with `await using`.
 * @example
 * ```ts
 * await using server = await testServerResource();
 * const client = server.client({ link: 'httpBatchLink' });
 * ```
 */
export async function testServerResource() {
  const calls: ProcedureCall[] = [];
  const requests: string[] = [];
  const faults: NetworkFault[] = [];
  const handler = createHTTPHandler({
    router: createRouter(calls),
    responseMeta({ errors }) {
      for (const error of errors) {
        if (error.cause instanceof SimulatedFailure && error.cause.retryAfterHeader) {
          return { headers: { 'retry-after': error.cause.retryAfterHeader } };
        }
      }
      return {};
    },
  });
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const fault = faults.shift();
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'badGateway') {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body><h1>502 Bad Gateway</h1></body></html>');
      return;
    }
    if (fault === 'lostResponse') {
      res.write = () => {
        req.socket.destroy();
        return false;
      };
      res.end = () => {
        req.socket.destroy();
        return res;
      };
    }
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    /** Every procedure execution, in order. */
    calls,
    /** The URL of every HTTP request, faulted or not, in order. */
    requests,
    /** The executions of one procedure. */
    callsTo(path: string) {
      return calls.filter((call) => call.path === path);
    },
    /** Makes the next HTTP requests fail, one fault each. */
    injectFaults(...next: NetworkFault[]) {
      faults.push(...next);
    },
    /**
     * A client for the test router, with `idempotencyLink` in front of
     * `opts.link`; its `procedures` default to {@link testProcedures}.
     */
    client(opts: {
      link: TerminatingLink;
      idempotency?: Partial<IdempotencyLinkOptions<TestRouter>>;
    }) {
      const terminating =
        opts.link === 'httpLink'
          ? httpLink<TestRouter>({ url })
          : httpBatchLink<TestRouter>({ url });
      return createTRPCClient<TestRouter>({
        links: [idempotencyLink({ procedures: testProcedures, ...opts.idempotency }), terminating],
      });
    },
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((err) => (err ? reject(err) : resolve())),
      );
    },
  };
}
