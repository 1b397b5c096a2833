import { useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import { checkStorm, runDuplicateStorm, startServers, stormKnobs } from './duplicateStorm';

const databases = useFreshDatabases();

/**
 * The single-machine option: two processes on one SQLite file (WAL), every
 * key's duplicates sent to both at the same moment. Both prepare; the second
 * to take SQLite's write lock finds the first's record in its commit and replays it.
 */
describe('two server processes on one SQLite file', () => {
  it(`${stormKnobs.keys} keys, each sent to both processes at once: each executes once, every duplicate gets the identical answer, money is conserved`, {
    timeout: 60_000 + stormKnobs.keys * 200,
  }, async () => {
    const databaseUrl = await databases.create('sqlite');
    // A new file: the two processes' start-up (WAL, migrations) races too.
    await using cluster = await startServers({ count: 2, databaseUrl });
    const storm = await runDuplicateStorm({ servers: cluster.servers, ...stormKnobs });
    const figures = await checkStorm({ servers: cluster.servers, databaseUrl, storm });
    console.info(`multiprocess sqlite: ${JSON.stringify(figures)}`);
    // Duplicates that prepared at the same time were settled at their commit.
    expect(figures.replayedAfterWaiting).toBeGreaterThan(0);
  });
});
