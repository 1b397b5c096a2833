import { useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import { checkStorm, runDuplicateStorm, startServers, stormKnobs } from './duplicateStorm';

const databases = useFreshDatabases();

/**
 * Several machines' worth of servers: three processes on one Postgres
 * database, every key's duplicates sent to all three at the same moment.
 * `MULTIPROCESS_KEYS` (default 300) sets the number of keys.
 */
describe('three server processes on one Postgres database', () => {
  it(`${stormKnobs.keys} keys, each sent to every process at once: each executes once, every duplicate gets the identical answer, money is conserved`, {
    timeout: 60_000 + stormKnobs.keys * 200,
  }, async () => {
    const databaseUrl = await databases.create('postgres');
    // A fresh database: the three processes' migrations at start take turns.
    await using cluster = await startServers({ count: 3, databaseUrl });
    const storm = await runDuplicateStorm({ servers: cluster.servers, ...stormKnobs });
    const figures = await checkStorm({ servers: cluster.servers, databaseUrl, storm });
    console.info(`multiprocess postgres: ${JSON.stringify(figures)}`);
    // Duplicates met running executions and were settled at their commit (a blocked
    // insert on the key's unique index): the storm tested concurrency, not only replay.
    expect(figures.replayedAfterWaiting).toBeGreaterThan(0);
  });
});
