import { describeDuplicateStorm } from './duplicateStorm';

/**
 * Several machines' worth of servers: three processes on one MySQL (MariaDB)
 * database. `MULTIPROCESS_KEYS` (default 300) sets the number of keys.
 */
describeDuplicateStorm({
  title: 'three server processes on one MySQL database',
  dialect: 'mysql',
  processes: 3,
  settledAtCommit:
    "a duplicate's insert blocks on the key's primary key until the first commits, then replays it",
});
