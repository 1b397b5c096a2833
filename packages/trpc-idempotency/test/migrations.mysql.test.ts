/**
 * The README's "Migrations" on MySQL (a real MariaDB): the package's
 * migrations alone, also from several processes at once, and beside your
 * drizzle-kit migrations of the exported `idempotencyRecords`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/mysql2';
import { migrate as migrateMysqlWithDrizzle } from 'drizzle-orm/mysql2/migrator';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MYSQL_MIGRATIONS_TABLE,
  migrateMysqlIdempotencyStore,
  mysqlIdempotencyStore,
} from '../src/mysql';
import { createMysqlTestDatabase, type MysqlServer, startMysql } from './stores/mariadb';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);

describe('MySQL migrations', () => {
  let server: MysqlServer;
  const pools: mysql.Pool[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    server = await startMysql();
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    for (const cleanup of cleanups) await cleanup();
    await server?.[Symbol.asyncDispose]();
  });

  async function freshDatabase() {
    const database = await createMysqlTestDatabase(server.url);
    cleanups.push(async () => {
      await database[Symbol.asyncDispose]();
    });
    const pool = mysql.createPool({ uri: database.url, connectionLimit: 4 });
    pools.push(pool);
    const db = drizzle({ client: pool });
    const rows = async <T>(text: string) => ((await pool.query(text)) as unknown as [T[]])[0];
    return Object.assign(db, {
      rows,
      columns: async () =>
        (
          await rows<{ name: string }>(
            "SELECT column_name AS name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'idempotency_records' ORDER BY ordinal_position",
          )
        ).map((row) => row.name),
      indexes: async () =>
        (
          await rows<{ name: string }>(
            "SELECT DISTINCT index_name AS name FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = 'idempotency_records'",
          )
        )
          .map((row) => row.name)
          .sort(),
      appliedMigrations: async () =>
        Number(
          (await rows<{ n: number }>(`SELECT count(*) AS n FROM \`${MYSQL_MIGRATIONS_TABLE}\``))[0]
            ?.n,
        ),
    });
  }

  async function expectStoreWorks(db: Awaited<ReturnType<typeof freshDatabase>>) {
    const store = mysqlIdempotencyStore({ db });
    const claim = { scope: 's', path: 'p', fingerprint: 'f', owner: 'o', now: 1 };
    const upper = await store.claim({ ...claim, key: 'Key-1', leaseExpiresAt: 9, expiresAt: 99 });
    const lower = await store.claim({ ...claim, key: 'key-1', leaseExpiresAt: 9, expiresAt: 99 });
    // The binary collation: keys that differ in case alone are two keys.
    expect([upper.acquired, lower.acquired]).toEqual([true, true]);
    expect(await store.find({ scope: 's', key: 'KEY-1', now: 2 })).toBeUndefined();
  }

  it('the package’s migrations alone: the whole table; again at every start, also at once', async () => {
    const db = await freshDatabase();
    await Promise.all([migrateMysqlIdempotencyStore(db), migrateMysqlIdempotencyStore(db)]);
    await migrateMysqlIdempotencyStore(db);
    expect(await db.columns()).toEqual([
      'scope',
      'key',
      'path',
      'fingerprint',
      'state',
      'owner',
      'attempt',
      'lease_expires_at_ms',
      'expires_at_ms',
      'created_at_ms',
      'completed_at_ms',
      'outcome_kind',
      'response',
      'steps',
      'response_expires_at_ms',
      'trace_context',
    ]);
    expect(await db.indexes()).toEqual(
      [
        'PRIMARY',
        'idempotency_records_expires_at_idx',
        'idempotency_records_response_expires_at_idx',
      ].sort(),
    );
    expect(await db.appliedMigrations()).toBe(1);
    const [engine] = await db.rows<{ engine: string }>(
      "SELECT engine FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'idempotency_records'",
    );
    expect(engine?.engine).toBe('InnoDB');
    await expectStoreWorks(db);
  });

  it('your drizzle-kit migrations alone, and then the package’s too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-mysql-migrations-'));
    try {
      writeFileSync(
        join(dir, 'schema.ts'),
        `export { idempotencyRecords } from '${join(root, 'src', 'mysql', 'schema')}';\n`,
      );
      await run(
        join(root, 'node_modules/.bin/drizzle-kit'),
        ['generate', '--dialect', 'mysql', '--schema', join(dir, 'schema.ts'), '--out', 'drizzle'],
        { cwd: dir },
      );
      const db = await freshDatabase();
      await migrateMysqlWithDrizzle(db, { migrationsFolder: join(dir, 'drizzle') });
      await expectStoreWorks(db);
      await migrateMysqlIdempotencyStore(db);
      expect(await db.appliedMigrations()).toBe(1);
      expect(await db.indexes()).toHaveLength(3);
      await db.execute(sql`DELETE FROM idempotency_records`);
      await expectStoreWorks(db);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
