import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { TestProject } from 'vitest/node';

const webDir = fileURLToPath(new URL('..', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    /** The built web app (what `pnpm start` serves). */
    webRoot: string;
    /** The built page of the plain-mutation test app. */
    plainPageRoot: string;
  }
}

/** Builds the pages the browser tests serve, as `pnpm --filter @ledger/web build` does. */
export default async function setup(project: TestProject) {
  const out = mkdtempSync(join(tmpdir(), 'ledger-web-build-'));
  const webRoot = join(out, 'web');
  const plainPageRoot = join(out, 'plain');
  await build({ root: webDir, logLevel: 'warn', build: { outDir: webRoot, emptyOutDir: true } });
  await build({
    root: join(webDir, 'test/fixtures/plainMutation'),
    configFile: join(webDir, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir: plainPageRoot, emptyOutDir: true },
  });
  project.provide('webRoot', webRoot);
  project.provide('plainPageRoot', plainPageRoot);
  return () => rmSync(out, { recursive: true, force: true });
}
