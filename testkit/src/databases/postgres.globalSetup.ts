import type { TestProject } from 'vitest/node';
import { startPostgresServer } from './postgres';

/**
 * Optional vitest `globalSetup` (`@ledger/testkit/postgres.globalSetup`): one
 * Postgres server for the whole run, which {@link useFreshDatabases} creates
 * each test file's databases on. Without it, each file starts a server of its own.
 */
export default async function setup(project: TestProject) {
  const server = await startPostgresServer();
  project.provide('postgresUrl', server.url);
  return () => server[Symbol.asyncDispose]();
}
