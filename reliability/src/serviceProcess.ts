import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** One JSON line a service logged. */
export interface ServiceLogLine {
  msg: string;
  [field: string]: unknown;
}

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Spawns a TypeScript script of this package (`src/…`) as a process of its own
 * (through tsx, the workspace resolving the library to its source), reads its
 * JSON log lines, and resolves once it logs `listening` with its `url`. For
 * the lease-mode server; `await using` SIGKILLs it if still running.
 */
export async function startService(opts: {
  script: string;
  env: Record<string, string>;
  startTimeoutMs?: number;
}) {
  const child = spawn(
    process.execPath,
    ['--conditions=@trpc-idempotency/source', '--import', 'tsx', opts.script],
    {
      cwd: packageDir,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const each of running) each.kill('SIGKILL');
    });
  }
  const logs: ServiceLogLine[] = [];
  const lines = new EventEmitter();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: ServiceLogLine;
    try {
      line = JSON.parse(text) as ServiceLogLine;
    } catch {
      line = { msg: 'raw', text };
    }
    logs.push(line);
    lines.emit('line', line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    }),
  );

  function waitForLog(match: (line: ServiceLogLine) => boolean, timeoutMs = 10_000) {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<ServiceLogLine>((resolve, reject) => {
      const onLine = (line: ServiceLogLine) => {
        if (!match(line)) return;
        cleanup();
        resolve(line);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr:\n${stderr}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        lines.off('line', onLine);
      };
      lines.on('line', onLine);
      void exited.then(() => {
        cleanup();
        reject(new Error(`the service exited before a matching log line; stderr:\n${stderr}`));
      });
    });
  }

  let listening: ServiceLogLine;
  try {
    listening = await waitForLog((line) => line.msg === 'listening', opts.startTimeoutMs ?? 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    url: String(listening['url']),
    pid: child.pid!,
    logs,
    waitForLog,
    exited,
    /** Idempotency events of `type`. */
    events: (type: string) => logs.filter((line) => line.msg === type),
    /** Sends `signal`; for SIGKILL and SIGTERM resolves when the process has exited. */
    async signal(signal: NodeJS.Signals) {
      if (!alive()) return;
      child.kill(signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited;
    },
    async [Symbol.asyncDispose]() {
      if (alive()) {
        child.kill('SIGCONT');
        child.kill('SIGKILL');
      }
      await exited;
    },
  };
}

/** A process from {@link startService}. */
export type ServiceProcess = Awaited<ReturnType<typeof startService>>;
