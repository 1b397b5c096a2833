import type { AnyTRPCProcedure as AnyProcedure, AnyTRPCRouter as AnyRouter } from '@trpc/server';

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
  // Loading a lazy router may reveal lazy routers inside it.
  for (;;) {
    const lazy = Object.values(router._def.lazy);
    if (lazy.length === 0) break;
    await Promise.all(lazy.map((loader) => loader.load()));
  }
  const procedures = router._def.procedures as Record<string, AnyProcedure>;
  return Object.keys(procedures)
    .filter((path) => idempotentProcedures.has(procedures[path]!))
    .sort();
}
