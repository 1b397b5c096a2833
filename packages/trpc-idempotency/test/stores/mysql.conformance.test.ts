import { sql } from 'drizzle-orm';
import { int, mysqlTable, serial } from 'drizzle-orm/mysql-core';
import { beforeAll, describe } from 'vitest';
import { type inferMysqlTransaction, mysqlIdempotencyStore } from '../../src/mysql';
import { describeIdempotencyStoreConformance } from '../../src/testing';
import { type MysqlTestDb, useMysqlDatabase } from './mariadb';

const probeRows = mysqlTable('conformance_probe', {
  id: serial('id').primaryKey(),
  value: int('value').notNull(),
});

const mysql = useMysqlDatabase();
const dbs: Record<'single' | 'multiple', MysqlTestDb> = {} as never;

beforeAll(async () => {
  dbs.single = mysql.connect();
  // The pool that sends the record's insert and COMMIT in one query.
  dbs.multiple = mysql.connect({ multipleStatements: true });
  await dbs.single.execute(
    sql`CREATE TABLE conformance_probe (id serial PRIMARY KEY, value int NOT NULL)`,
  );
});

describe.each(['single', 'multiple'] as const)('statements per query: %s', (statements) => {
  describeIdempotencyStoreConformance({
    name: `mysql (${statements})`,
    // The second pool differs in the commit's last query only: fewer random sequences suffice.
    propertyRuns: statements === 'single' ? 100 : 25,
    // One database for the file; each test starts from empty tables.
    async createStore() {
      const db = dbs[statements];
      // DELETE, not TRUNCATE: InnoDB's TRUNCATE re-creates the table, many times slower here.
      await db.execute(sql`DELETE FROM idempotency_records`);
      await db.execute(sql`DELETE FROM conformance_probe`);
      return {
        store: mysqlIdempotencyStore({ db }),
        probe: {
          write: async (tx: inferMysqlTransaction<MysqlTestDb>, value) => {
            await tx.insert(probeRows).values({ value });
          },
          count: () => db.$count(probeRows),
        },
      };
    },
  });
});
