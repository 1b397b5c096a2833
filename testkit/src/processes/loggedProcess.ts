import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createInterface } from 'node:readline';

/** One JSON line a process logged (a line that is not JSON has `level: 'raw'`). */
export interface LogLine {
  time: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

/** How a process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Spawns a TypeScript entry point of the workspace as a process of its own
 * (through tsx, with the library resolved to its source), reads its JSON log
 * lines, and resolves once it logs `listening` with its `url`. If it does not
 * within `startTimeoutMs`, it is killed and the error carries its last lines.
 * Processes still running when the test process exits are SIGKILLed.
 */
export async function spawnLoggedProcess(opts: {
  /** The entry point, relative to `cwd`. */
  script: string;
  cwd: string;
  env: Record<string, string>;
  startTimeoutMs?: number;
}) {
  const child = spawn(
    process.execPath,
    ['--conditions=@trpc-idempotency/source', '--import', 'tsx', opts.script],
    { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A crashed test run must not leave processes behind.
    process.once('exit', () => {
      for (const each of running) each.kill('SIGKILL');
    });
  }

  const logs: LogLine[] = [];
  const lines = new EventEmitter();
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      line = { time: new Date().toISOString(), level: 'raw', msg: text };
    }
    logs.push(line);
    lines.emit('line', line);
  });
  // `close`, not `exit`: by then stdout is drained, so `logs` holds every line.
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('close', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });

  function describe() {
    const tail = logs.slice(-20).map((line) => JSON.stringify(line));
    return `stdout (last lines):\n${tail.join('\n')}\nstderr:\n${stderr}`;
  }

  /** Resolves with the first logged line (past or future) that `match` accepts. */
  function waitForLog(match: (line: LogLine) => boolean, timeoutMs = 30_000) {
    const seen = logs.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise<LogLine>((resolve, reject) => {
      const onLine = (line: LogLine) => {
        if (!match(line)) return;
        cleanup();
        resolve(line);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching log line within ${timeoutMs} ms\n${describe()}`));
      }, timeoutMs);
      void exited.then(() => {
        cleanup();
        reject(new Error(`the process exited before a matching log line\n${describe()}`));
      });
      const cleanup = () => {
        clearTimeout(timer);
        lines.off('line', onLine);
      };
      lines.on('line', onLine);
    });
  }

  let listening: LogLine;
  try {
    listening = await waitForLog((line) => line.msg === 'listening', opts.startTimeoutMs ?? 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }

  return {
    child,
    /** The URL of its `listening` line. */
    url: String(listening['url']),
    pid: child.pid!,
    /** Every line logged so far, parsed. */
    logs,
    waitForLog,
    /** Resolves when the process has exited and its output is read. */
    exited,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    /** Idempotency events of `type` (log lines with that `msg`). */
    events: (type: string) => logs.filter((line) => line.msg === type),
  };
}
