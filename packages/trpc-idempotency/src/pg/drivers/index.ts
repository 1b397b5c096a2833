import { UnsupportedDriverError } from '../../drizzle/unsupportedDriver';
import { type AnyPgDatabase, type PgDriver, sessionKind } from './driver';
import { isNodePostgresClient, nodePostgres } from './nodePostgres';
import { pglite } from './pglite';
import { postgresJs } from './postgresJs';

export type { AnyPgDatabase, PgDriver, PgDriverName } from './driver';
export { postgresError } from './driver';

const DRIVERS: readonly PgDriver[] = [nodePostgres, postgresJs, pglite];

/** The supported drivers, as the error names them. */
export const SUPPORTED_PG_DRIVERS =
  'node-postgres on a pool (drizzle-orm/node-postgres with a pg.Pool, or a drop-in pool such as Neon’s serverless Pool), postgres.js (drizzle-orm/postgres-js) and PGlite (drizzle-orm/pglite)';

// Why the drivers Drizzle has for Postgres and the store cannot run on are out (README.md#postgres-drivers).
const UNSUPPORTED: Record<string, string> = {
  NeonHttpSession:
    'Neon’s HTTP driver has no interactive transactions, and the handler’s writes and the idempotency record must commit in one; use Neon’s serverless Pool with drizzle-orm/node-postgres',
  NeonSession:
    'drizzle-orm/neon-serverless is not tested with this store; Neon’s Pool is a drop-in pg.Pool: pass it to drizzle-orm/node-postgres',
  VercelPgSession: 'drizzle-orm/vercel-postgres is not tested with this store',
  AwsDataApiSession:
    'the RDS Data API runs each statement as its own HTTP call; the store needs a connection that holds a transaction',
  PgRemoteSession:
    'the HTTP proxy driver runs each statement as its own call; the store needs a connection that holds a transaction',
};

/**
 * The driver of a Drizzle Postgres database, or an {@link UnsupportedDriverError}
 * that names what was found, why it is out, and the supported drivers. A
 * store needs a pool where the driver has one; migrations also run on one
 * connection (`for: 'migrate'`).
 */
export function pgDriverOf(
  db: AnyPgDatabase,
  opts: { caller: string; for: 'store' | 'migrate' },
): PgDriver {
  const { caller } = opts;
  const driver = DRIVERS.find((each) => each.matches(db));
  if (driver && !(opts.for === 'store' && isNodePostgresClient(db))) return driver;
  const kind = sessionKind(db);
  if (kind === undefined) {
    throw new UnsupportedDriverError({
      caller,
      found: `${describe(db)}`,
      reason: 'this is not a Drizzle Postgres database (pass the object drizzle(…) returned)',
      supported: SUPPORTED_PG_DRIVERS,
    });
  }
  if (isNodePostgresClient(db)) {
    throw new UnsupportedDriverError({
      caller,
      found: 'node-postgres on a single pg.Client',
      reason:
        'each transactional execution holds a connection of its own while other requests use others: pass a pg.Pool',
      supported: SUPPORTED_PG_DRIVERS,
    });
  }
  throw new UnsupportedDriverError({
    caller,
    found: `a Drizzle database on ${kind}`,
    reason: UNSUPPORTED[kind] ?? 'this driver is not one the store was tested on',
    supported: SUPPORTED_PG_DRIVERS,
  });
}

function describe(value: unknown) {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  return value.constructor?.name ? `a ${value.constructor.name}` : 'an object';
}
