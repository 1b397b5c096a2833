import { describeDuplicateStorm } from './duplicateStorm';

/**
 * Several machines' worth of servers: three processes on one Postgres
 * database. `MULTIPROCESS_KEYS` (default 300) sets the number of keys.
 */
describeDuplicateStorm({
  title: 'three server processes on one Postgres database',
  dialect: 'postgres',
  processes: 3,
  settledAtCommit:
    "a duplicate's insert blocks on the key's unique index until the first commits, then replays it",
});
