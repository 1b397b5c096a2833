import { afterAll, inject } from 'vitest';
import { tempSqliteFile } from '../tempFiles';
import { createMysqlTestDatabase, type MysqlServer, startMysql } from './mysql';
import { createTestDatabase, type PostgresServer, startPostgresServer } from './postgres';

/** The databases the example server runs on; the contract tests run on each. */
export const DIALECTS = ['sqlite', 'postgres'] as const;
export type Dialect = (typeof DIALECTS)[number];
/**
 * Every database a test may ask for: the {@link DIALECTS}, and MySQL (its own
 * tests, `apps/server/test/mysql.test.ts`; the contract tests do not run on it).
 */
export type DatabaseKind = Dialect | 'mysql';

/**
 * Fresh, empty databases for one test file: `create('sqlite')` is a file in a
 * temp folder, `create('postgres')` a database of its own on the run's
 * Postgres server (`@ledger/testkit/postgres.globalSetup`, or `DATABASE_URL`
 * when it is a postgres:// URL), or on a server this file starts;
 * `create('mysql')` a database of its own on the MySQL server `MYSQL_URL` (or
 * a mysql:// `DATABASE_URL`) names, or on a MariaDB this file starts.
 * Everything is removed or dropped, and the servers stopped, after the file.
 */
export function useFreshDatabases() {
  const cleanups: Array<() => PromiseLike<void> | void> = [];
  let server: PostgresServer | undefined;
  let serverUrl: string | undefined;
  let mysqlServer: MysqlServer | undefined;

  afterAll(async () => {
    try {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    } finally {
      try {
        await server?.[Symbol.asyncDispose]();
      } finally {
        await mysqlServer?.[Symbol.asyncDispose]();
      }
    }
  });

  return {
    /** A `DATABASE_URL` naming a new, empty database of `dialect`. */
    async create(dialect: DatabaseKind): Promise<string> {
      if (dialect === 'sqlite') {
        const database = tempSqliteFile('ledger-test');
        cleanups.push(() => database[Symbol.dispose]());
        return database.url;
      }
      if (dialect === 'mysql') {
        mysqlServer ??= await startMysql();
        const database = await createMysqlTestDatabase(mysqlServer.url);
        cleanups.push(() => database[Symbol.asyncDispose]());
        return database.url;
      }
      if (!serverUrl) {
        serverUrl = inject('postgresUrl');
        if (!serverUrl) {
          server = await startPostgresServer();
          serverUrl = server.url;
        }
      }
      const database = await createTestDatabase(serverUrl);
      cleanups.push(() => database[Symbol.asyncDispose]());
      return database.url;
    },
  };
}
