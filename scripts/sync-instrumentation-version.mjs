// Run after `changeset version` (root script `version-packages`): the telemetry's
// instrumentation scope names the package's version, and the built library has no
// package.json to read it from at run time, so the constant is rewritten here.
// `test/telemetry.test.ts` fails if the two ever differ.
import { readFileSync, writeFileSync } from 'node:fs';

const packageDir = new URL('../packages/trpc-idempotency/', import.meta.url);
const { version } = JSON.parse(readFileSync(new URL('package.json', packageDir), 'utf8'));
const file = new URL('src/server/telemetry.ts', packageDir);
const source = readFileSync(file, 'utf8');
const pattern = /export const INSTRUMENTATION_VERSION = '[^']*';/;
if (!pattern.test(source)) {
  throw new Error(
    'sync-instrumentation-version: INSTRUMENTATION_VERSION not found in telemetry.ts',
  );
}
writeFileSync(
  file,
  source.replace(pattern, `export const INSTRUMENTATION_VERSION = '${version}';`),
);
console.log(`INSTRUMENTATION_VERSION = '${version}'`);
