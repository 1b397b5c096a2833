import type { TestProject } from 'vitest/node';
import { startPostgres } from './postgres';

/**
 * Optional vitest `globalSetup`: one Postgres server for the whole run, each
 * test file still getting a database of its own. Without it, every Postgres
 * test file starts a server of its own.
 */
export default async function setup(project: TestProject) {
  const server = await startPostgres();
  project.provide('postgresUrl', server.url);
  return () => server[Symbol.asyncDispose]();
}
