import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { TransferRequest } from '@ledger/server';
import autocannon from 'autocannon';
import { libraryConditions } from '../harness/machine';
import {
  checkTarget,
  type HttpSummary,
  type ResultRow,
  type SuiteResult,
} from '../harness/results';
import { median, percentile } from '../harness/stats';
import type { SuiteContext } from '../harness/suite';
import type { ClientMessage, ServerMessage } from '../http/protocol';

const CONNECTIONS = 64;
const REPLAY_KEYS = 256;
const USER = 'user-1';

interface Phase {
  id: 'plain' | 'execute' | 'replay';
  label: string;
  path: string;
  body: () => string;
}

/**
 * The bench router (the example's ledger as the prepared body) behind tRPC's
 * standalone HTTP adapter in a server process of its own, loaded by
 * autocannon from this process with 64 keep-alive connections. Plain,
 * first-execution and replay phases alternate (forward, then backward),
 * after a warm-up of each.
 */
export async function runHttpSuite(ctx: SuiteContext): Promise<SuiteResult> {
  const settings = ctx.quick
    ? { connections: CONNECTIONS, warmupS: 1, phaseS: 2, rounds: 1 }
    : { connections: CONNECTIONS, warmupS: 2, phaseS: 5, rounds: 3 };
  ctx.progress.plan(2 + 3 + 3 * settings.rounds);
  ctx.progress.step('http · starting the server process');
  const server = await startServer();
  try {
    const { request } = server;
    ctx.progress.step(`http · creating ${REPLAY_KEYS} completed keys for the replay phase`);
    const replayKeys = await createCompletedKeys(server.port, request);
    let next = 0;
    const phases: Phase[] = [
      {
        id: 'plain',
        label: 'plain tRPC mutation',
        path: '/trpc/prepared.plain',
        body: () => JSON.stringify(request),
      },
      {
        id: 'execute',
        label: 'idempotent, first execution',
        path: '/trpc/prepared.idempotent',
        body: () => JSON.stringify({ ...request, idempotencyKey: randomUUID() }),
      },
      {
        id: 'replay',
        label: 'idempotent, replay',
        path: '/trpc/prepared.idempotent',
        body: () =>
          JSON.stringify({ ...request, idempotencyKey: replayKeys[next++ % replayKeys.length] }),
      },
    ];

    // Every phase's writes are checked: a replay phase must write nothing, and
    // a writing phase exactly its successes, plus at most one request per
    // connection still in flight when autocannon stopped counting.
    const problems: string[] = [];
    let replayRequests = 0;
    let before = await server.count();
    const measure = async (phase: Phase, durationS: number) => {
      const result = await runAutocannon({ port: server.port, phase, durationS });
      // Requests cut off at the end may still be running in the server: let them
      // land. Under load that takes longer than any fixed pause (their writes then
      // counted against the next phase): wait until the count stops moving.
      let after = await server.count();
      for (let waitedMs = 0; waitedMs < 5_000; waitedMs += 300) {
        await sleep(300);
        const settled = await server.count();
        if (settled.transfers === after.transfers) break;
        after = settled;
      }
      const written = after.transfers - before.transfers;
      // The server's CPU over the phase and its settling tail, per request answered.
      const serverCpuUs = (after.cpuUs - before.cpuUs) / Math.max(1, result.summary.requests);
      before = after;
      if (phase.id === 'replay') {
        replayRequests += result.successes;
        if (written !== 0) problems.push(`a replay phase wrote ${written} transfers`);
      } else if (written < result.successes || written > result.successes + CONNECTIONS) {
        problems.push(`${phase.id}: ${result.successes} successes but ${written} transfers`);
      }
      return { ...result, summary: { ...result.summary, serverCpuUs } };
    };
    for (const phase of phases) {
      ctx.progress.step(`http · warm-up · ${phase.label}`);
      await measure(phase, settings.warmupS);
    }
    const runs = new Map<Phase['id'], LoadResult[]>(phases.map((p) => [p.id, []]));
    for (let round = 0; round < settings.rounds; round++) {
      const order = round % 2 === 0 ? phases : [...phases].reverse();
      for (const phase of order) {
        ctx.progress.step(
          `http · round ${round + 1}/${settings.rounds} · ${phase.label} (${settings.phaseS} s)`,
        );
        runs.get(phase.id)?.push(await measure(phase, settings.phaseS));
      }
    }
    if (problems.length > 0) throw new Error(`http: bookkeeping mismatch: ${problems.join('; ')}`);
    const all = (id: Phase['id']) => runs.get(id) ?? [];
    const notes = [
      `${replayRequests} replayed requests (warm-up included) wrote no transfer; every writing phase wrote one transfer per successful request (plus at most one per connection in flight when the phase ended).`,
      'autocannon runs in the benchmark process and the server in its own: each has one of the two cores, so the load generator shares the machine with the server.',
    ];
    const failures = phases.reduce(
      (sum, phase) => sum + all(phase.id).reduce((s, run) => s + run.summary.failures, 0),
      0,
    );
    if (failures > 0) notes.push(`${failures} requests failed (errors, timeouts or non-2xx).`);

    const plainRuns = all('plain');
    const throughputRatio = (id: Phase['id']) =>
      median(
        all(id).map(
          (run, round) =>
            run.summary.requestsPerSec / (plainRuns[round]?.summary.requestsPerSec ?? Number.NaN),
        ),
      );
    const cpuRatio = (id: Phase['id']) =>
      median(
        all(id).map(
          (run, round) =>
            run.summary.serverCpuUs / (plainRuns[round]?.summary.serverCpuUs ?? Number.NaN),
        ),
      );
    const rows: ResultRow[] = phases.map((phase) => ({
      id: phase.id,
      label: phase.label,
      http: combine(all(phase.id)),
      ratios: [
        {
          column: '× plain req/s',
          to: 'plain',
          what: 'throughput',
          value: throughputRatio(phase.id),
        },
        {
          column: 'server CPU × plain',
          to: 'plain',
          what: 'server CPU per request',
          value: cpuRatio(phase.id),
        },
      ],
    }));
    const cpuOf = (id: Phase['id']) => combine(all(id)).serverCpuUs;
    notes.push(
      `Server CPU per request: a first execution costs ${(cpuOf('execute') - cpuOf('plain')).toFixed(0)} µs more than a plain call, a replay ${(cpuOf('plain') - cpuOf('replay')).toFixed(0)} µs less (all rounds pooled); on a core of its own the server's throughput would follow the inverse of \`server CPU × plain\`.`,
    );
    return {
      id: 'http',
      title: `Over HTTP: ${CONNECTIONS} concurrent connections`,
      description:
        'tRPC standalone HTTP adapter on 127.0.0.1 in a server process of its own: the example’s SQLite database and ledger (the prepared body of the in-process suite), one connection, as in the ledger server; autocannon with 64 keep-alive connections, one request in flight on each, a new JSON body per request (a fresh key for first executions; one of 256 completed keys, round robin, for replays). Latency is timed per request by the load generator; `server CPU µs` is the server process’s CPU time (user and system) over each phase and the requests still landing after it, per request answered.',
      settings,
      rows,
      targets: [
        checkTarget({
          id: 'http-execute',
          description: 'HTTP first execution req/s ÷ plain',
          limit: 0.9,
          comparison: '>=',
          unit: 'ratio',
          measured: throughputRatio('execute'),
        }),
        checkTarget({
          id: 'http-replay',
          description: 'HTTP replay req/s ÷ plain',
          limit: 1.15,
          comparison: '>=',
          unit: 'ratio',
          measured: throughputRatio('replay'),
        }),
      ],
      notes,
    };
  } finally {
    await server.close();
  }
}

interface LoadResult {
  summary: HttpSummary;
  successes: number;
  latenciesMs: number[];
}

async function runAutocannon(opts: {
  port: number;
  phase: Phase;
  durationS: number;
}): Promise<LoadResult> {
  const latenciesMs: number[] = [];
  let skipped = 0;
  const result = await autocannon({
    url: `http://127.0.0.1:${opts.port}`,
    connections: CONNECTIONS,
    duration: opts.durationS,
    requests: [
      {
        method: 'POST',
        path: opts.phase.path,
        headers: { 'content-type': 'application/json', 'x-user-id': USER },
        setupRequest: (request, context) => {
          (context as { sentAt?: number }).sentAt = performance.now();
          return { ...request, body: opts.phase.body() };
        },
        onResponse: (_status, _body, context) => {
          // The first request of each connection was built before the run started.
          if (skipped < CONNECTIONS) {
            skipped++;
            return;
          }
          const sentAt = (context as { sentAt?: number }).sentAt;
          if (sentAt !== undefined) latenciesMs.push(performance.now() - sentAt);
        },
      },
    ],
  });
  const successes = result['2xx'];
  const sorted = Float64Array.from(latenciesMs).sort();
  return {
    successes,
    latenciesMs,
    summary: {
      requestsPerSec: successes / result.duration,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      requests: result.requests.total,
      failures: result.errors + result.timeouts + result.non2xx,
      durationS: result.duration,
      // Filled in by the phase, which reads the server's CPU time before and after.
      serverCpuUs: Number.NaN,
    },
  };
}

/** The rounds of one phase as one figure: total requests over total time, pooled latencies. */
function combine(runs: LoadResult[]): HttpSummary {
  const durationS = runs.reduce((sum, run) => sum + run.summary.durationS, 0);
  const successes = runs.reduce((sum, run) => sum + run.successes, 0);
  const requests = runs.reduce((sum, run) => sum + run.summary.requests, 0);
  const latencies = Float64Array.from(runs.flatMap((run) => run.latenciesMs)).sort();
  return {
    requestsPerSec: successes / durationS,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    requests,
    failures: runs.reduce((sum, run) => sum + run.summary.failures, 0),
    durationS,
    // Each run's CPU per request, weighted by its requests.
    serverCpuUs:
      runs.reduce((sum, run) => sum + run.summary.serverCpuUs * run.summary.requests, 0) /
      Math.max(1, requests),
  };
}

async function createCompletedKeys(port: number, request: TransferRequest) {
  const keys = Array.from({ length: REPLAY_KEYS }, () => randomUUID());
  for (let i = 0; i < keys.length; i += 16) {
    await Promise.all(
      keys.slice(i, i + 16).map(async (idempotencyKey) => {
        const response = await fetch(`http://127.0.0.1:${port}/trpc/prepared.idempotent`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-user-id': USER },
          body: JSON.stringify({ ...request, idempotencyKey }),
        });
        if (!response.ok) throw new Error(`http: creating a key failed: ${response.status}`);
        await response.arrayBuffer();
      }),
    );
  }
  return keys;
}

interface ServerHandle {
  port: number;
  /** The transfer every request asks for: between the server's two accounts. */
  request: TransferRequest;
  count(): Promise<Extract<ServerMessage, { type: 'counts' }>>;
  close(): Promise<void>;
}

function startServer(): Promise<ServerHandle> {
  const child: ChildProcess = fork(fileURLToPath(new URL('../http/server.ts', import.meta.url)), {
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    // The same library as this process: built, or its source under the condition.
    execArgv: [...libraryConditions(), '--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const send = (message: ClientMessage) => child.send(message);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`http: the server exited early (${code})`)));
    child.once('message', (message: ServerMessage) => {
      if (message.type !== 'ready') return;
      resolve({
        port: message.port,
        request: message.request,
        count: () =>
          new Promise((answer) => {
            const onMessage = (reply: ServerMessage) => {
              if (reply.type !== 'counts') return;
              child.off('message', onMessage);
              answer(reply);
            };
            child.on('message', onMessage);
            send({ type: 'count' });
          }),
        async close() {
          if (child.exitCode === null) send({ type: 'close' });
          await exited;
        },
      });
    });
  });
}
