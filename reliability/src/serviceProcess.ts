import { fileURLToPath } from 'node:url';
import { spawnLoggedProcess } from '@ledger/testkit';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/**
 * Spawns a TypeScript script of this package (`src/…`) as a process of its own
 * (the same runner as the ledger server's: tsx, JSON log lines) and resolves
 * once it logs `listening` with its `url`. For the lease-mode server;
 * `await using` SIGKILLs it if still running (resuming it first if stopped).
 */
export async function startService(opts: {
  script: string;
  env: Record<string, string>;
  startTimeoutMs?: number;
}) {
  const started = await spawnLoggedProcess({ ...opts, cwd: packageDir });
  const { child, alive, exited } = started;
  return {
    url: started.url,
    pid: started.pid,
    logs: started.logs,
    waitForLog: started.waitForLog,
    exited,
    /** Idempotency events of `type`. */
    events: started.events,
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
