import { describe, expect, it } from 'vitest';
import { useFreshDatabases } from '../helpers/databases';
import { checkStorm, runDuplicateStorm, startServers, stormKnobs } from './duplicateStorm';

const databases = useFreshDatabases();

/**
 * The single-machine option: two processes on one SQLite file (WAL), every
 * key's duplicates sent to both at the same moment. Duplicates in the other
 * process poll the record; writes take turns on SQLite's write lock.
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
    expect(figures.replayedAfterWaiting).toBeGreaterThan(0);
    // The impatient process's duplicates got 409s, and their retries the same answer.
    expect(figures.conflictsRetried).toBeGreaterThan(0);
  });
});
