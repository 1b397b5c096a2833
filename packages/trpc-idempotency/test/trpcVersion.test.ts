import trpcClientPackage from '@trpc/client/package.json' with { type: 'json' };
import trpcServerPackage from '@trpc/server/package.json' with { type: 'json' };
import { expect, it } from 'vitest';
import packageJson from '../package.json' with { type: 'json' };

const lowestOf = (name: '@trpc/server' | '@trpc/client') =>
  /^npm:@trpc\/(?:server|client)@(.+)$/.exec(packageJson.devDependencies[`${name}-lowest`])?.[1];

/**
 * Which `@trpc/server` and `@trpc/client` this run loads: the dev
 * dependencies, or, in the `trpc-lowest` project (vitest.config.ts), the
 * lowest version of the peer ranges, under the aliases `@trpc/server-lowest`
 * and `@trpc/client-lowest`.
 */
it('runs on the @trpc/server and @trpc/client versions it means to', () => {
  const lowest = process.env['TRPC_UNDER_TEST'] === 'lowest';
  expect(trpcServerPackage.version).toBe(
    lowest ? lowestOf('@trpc/server') : packageJson.devDependencies['@trpc/server'],
  );
  expect(trpcClientPackage.version).toBe(
    lowest ? lowestOf('@trpc/client') : packageJson.devDependencies['@trpc/client'],
  );
});

it('tests exactly the peer ranges’ lowest versions', () => {
  for (const name of ['@trpc/server', '@trpc/client'] as const) {
    const lowestAllowed = /^>=(\d+\.\d+\.\d+) <12$/.exec(packageJson.peerDependencies[name])?.[1];
    expect(lowestAllowed, name).toBeDefined();
    expect(lowestOf(name), name).toBe(lowestAllowed);
  }
});

it('admits the tRPC version @trpc/tanstack-react-query pins, so npm resolves the React stack', () => {
  const pinned = packageJson.devDependencies['@trpc/tanstack-react-query'];
  expect(lowestOf('@trpc/server')).toBe(pinned);
  expect(lowestOf('@trpc/client')).toBe(pinned);
});
