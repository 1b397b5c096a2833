import trpcServerPackage from '@trpc/server/package.json' with { type: 'json' };
import { expect, it } from 'vitest';
import packageJson from '../package.json' with { type: 'json' };

/**
 * Which `@trpc/server` this run loads: the dev dependency, or, in the
 * `trpc-lowest` project (vitest.config.ts), the lowest version of the peer
 * range that the registry has, under the alias `@trpc/server-lowest`.
 */
it('runs on the @trpc/server version it means to', () => {
  const lowest = /^npm:@trpc\/server@(.+)$/.exec(
    packageJson.devDependencies['@trpc/server-lowest'],
  )?.[1];
  const expected =
    process.env['TRPC_UNDER_TEST'] === 'lowest'
      ? lowest
      : packageJson.devDependencies['@trpc/server'];
  expect(trpcServerPackage.version).toBe(expected);
});

/** `11.25.0` → `[11, 25, 0]`, to compare versions without a semver dependency. */
const parts = (version: string) => version.split('.').map(Number);
const atMost = (a: string, b: string) => {
  const [x, y] = [parts(a), parts(b)];
  const differs = x.findIndex((part, index) => part !== y[index]);
  return differs === -1 || x[differs]! < y[differs]!;
};

it('checks the builder no later than the peer range’s lowest version', () => {
  const lowestAllowed = /^>=(\d+\.\d+\.\d+)/.exec(
    packageJson.peerDependencies['@trpc/server'],
  )?.[1];
  const lowestRun = packageJson.devDependencies['@trpc/server-lowest'].replace(
    'npm:@trpc/server@',
    '',
  );
  expect(lowestAllowed).toBeDefined();
  expect(atMost(lowestRun, lowestAllowed!)).toBe(true);
});
