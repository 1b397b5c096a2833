import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The package's `examples/` folder, which the README shows file by file. */
export const examplesFolder = join(import.meta.dirname, '..', '..', 'examples');

/**
 * Imports an example by its path under `examples/`, running it as an app
 * would (its top-level code included). Loaded by URL, so the package's own
 * typecheck leaves the examples to `examples/tsconfig.json`, an app's settings.
 */
// biome-ignore lint/suspicious/noExplicitAny: an example's exports, typed by its own tsconfig
export function loadExample(file: string, opts: { instance?: string } = {}): Promise<any> {
  const url = pathToFileURL(join(examplesFolder, file));
  // Another instance of the module (its imports shared): another server process, as far as
  // the example's own objects go (its store, so its in-process joins).
  if (opts.instance) url.search = `instance=${opts.instance}`;
  return import(url.href);
}

/** A temp folder for an example's files (its SQLite database); `using` removes it. */
export function exampleFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-example-'));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The base URL of an example's listening HTTP server, once it listens. */
export async function urlOf(server: Server, path: string) {
  if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
}

/** Closes an example's HTTP server. */
export async function closeServer(server: Server) {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
