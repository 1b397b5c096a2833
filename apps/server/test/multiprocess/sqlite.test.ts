import { describeDuplicateStorm } from './duplicateStorm';

/** The single-machine option: two processes on one SQLite file (WAL). */
describeDuplicateStorm({
  title: 'two server processes on one SQLite file',
  dialect: 'sqlite',
  processes: 2,
  settledAtCommit:
    "both prepare; the second to take the write lock finds the first one's record in its commit and replays it",
});
