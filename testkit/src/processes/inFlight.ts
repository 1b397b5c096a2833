/**
 * How many calls of `path` a ledger server is running right now (from its
 * input check to its answer), read from its `trpc_procedures_in_flight`
 * gauge: over HTTP for a server process (its tRPC URL), or from an app in
 * this process. Transactional executions write nothing before their commit,
 * so the database cannot tell; the server can.
 */
export async function proceduresInFlight(
  server: { url: string } | { metrics: { render(): string | Promise<string> } },
  path = 'transfers.create',
): Promise<number> {
  const exposition =
    'metrics' in server
      ? await server.metrics.render()
      : await (await fetch(new URL('/metrics', server.url))).text();
  const line = exposition
    .split('\n')
    .find((each) => each.startsWith(`trpc_procedures_in_flight{path="${path}"} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

/** Polls `proceduresInFlight` until it reaches `count`; fails after `timeoutMs`. */
export async function waitForInFlight(
  server: Parameters<typeof proceduresInFlight>[0],
  count: number,
  opts: { path?: string; timeoutMs?: number } = {},
) {
  const deadline = performance.now() + (opts.timeoutMs ?? 10_000);
  for (;;) {
    const running = await proceduresInFlight(server, opts.path);
    if (running >= count) return;
    if (performance.now() > deadline) {
      throw new Error(
        `only ${running} of ${count} ${opts.path ?? 'transfers.create'} calls in flight`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
