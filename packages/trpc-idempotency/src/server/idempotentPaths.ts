import type { AnyTRPCRouter as AnyRouter } from '@trpc/server';
import { routerProcedures } from '../internal/trpc';

/** Every procedure `idempotentProcedure` built, so a router can say which of its mutations are idempotent. */
const idempotentProcedures = new WeakSet<object>();

/** Records `procedure` as built by `idempotentProcedure`; returns it. */
export function markIdempotent<TProcedure extends object>(procedure: TProcedure): TProcedure {
  idempotentProcedures.add(procedure);
  return procedure;
}

/**
 * The dotted paths of `router`'s idempotent mutations, sorted: the runtime
 * twin of the `inferIdempotentPaths` type. Loads lazy routers first. A test
 * compares it with the set a client passes to `idempotencyLink`, so a
 * procedure made idempotent (or plain) on the server without the client
 * knowing fails that test.
 * ```ts
 * expect(await idempotentPaths(appRouter)).toEqual(Object.keys(procedures).sort());
 * ```
 * @see README.md#which-procedures-the-link-touches
 */
export async function idempotentPaths(router: AnyRouter): Promise<string[]> {
  const procedures = await routerProcedures(router);
  return Object.keys(procedures)
    .filter((path) => idempotentProcedures.has(procedures[path]!))
    .sort();
}
