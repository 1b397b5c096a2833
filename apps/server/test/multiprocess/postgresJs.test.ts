import { describeDuplicateStorm } from './duplicateStorm';

/**
 * The Postgres storm again with the servers on postgres.js (`PG_DRIVER`):
 * two processes on one database. `MULTIPROCESS_KEYS` (default 300) sets the
 * number of keys.
 */
describeDuplicateStorm({
  title: 'two server processes on one Postgres database, through postgres.js',
  dialect: 'postgres',
  processes: 2,
  env: { PG_DRIVER: 'postgres.js' },
  settledAtCommit:
    "a duplicate's insert blocks on the key's unique index until the first commits, then replays it",
});
