import type { OpenDatabase } from '../database';
import type { GaugeCollector } from './metrics';

/**
 * Postgres through node-postgres: the pool's connections in use and idle, and
 * requests waiting for one (postgres.js does not tell its pool's state).
 */
export function databaseGauges(database: OpenDatabase): GaugeCollector[] {
  if (database.kind !== 'postgres' || database.driver !== 'node-postgres') return [];
  const pool = database.db.$client;
  return [
    {
      name: 'db_pool_connections',
      help: 'Postgres connections of this process by state; one is in use per execution in flight.',
      collect: () => [
        { labels: { state: 'in_use' }, value: pool.totalCount - pool.idleCount },
        { labels: { state: 'idle' }, value: pool.idleCount },
      ],
    },
    {
      name: 'db_pool_waiting_requests',
      help: 'Requests of this process waiting for a free Postgres connection: above 0 for long, the pool is too small.',
      collect: () => [{ labels: {}, value: pool.waitingCount }],
    },
  ];
}
