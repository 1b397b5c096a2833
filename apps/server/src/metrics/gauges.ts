import type { OpenDatabase } from '../database';
import type { GaugeCollector } from './metrics';

/** Postgres: the pool's connections in use and idle, and requests waiting for one. */
export function databaseGauges(database: OpenDatabase): GaugeCollector[] {
  if (database.kind !== 'postgres') return [];
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
