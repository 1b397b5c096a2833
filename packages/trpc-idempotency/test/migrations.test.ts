/**
 * The two ways to create the records table (README "Migrations"): the
 * package's own migrations, or your drizzle-kit migrations of the exported
 * `idempotencyRecords`; either alone, or both, on SQLite and Postgres, with
 * the `steps` column, and the tombstone and trace columns, added to tables
 * that predate them, whose records keep replaying.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { drizzle as drizzleSqlite } from 'drizzle-orm/better-sqlite3';
import { migrate as migrateSqliteWithDrizzle } from 'drizzle-orm/better-sqlite3/migrator';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePgWithDrizzle } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AnyIdempotencyStore } from '../src';
import { shippedMigrationsFolder } from '../src/drizzle/shippedMigrations';
import { migratePgIdempotencyStore, PG_MIGRATIONS_TABLE, pgIdempotencyStore } from '../src/pg';
import {
  migrateSqliteIdempotencyStore,
  SQLITE_MIGRATIONS_TABLE,
  sqliteIdempotencyStore,
} from '../src/sqlite';
import { isTombstone } from '../src/store/lifecycle';
import { createTestDatabase, type PostgresServer, startPostgres } from './stores/postgres';

const root = join(import.meta.dirname, '..');
const run = promisify(execFile);

/** A temp folder that `using` removes. */
function tempFolder() {
  const dir = mkdtempSync(join(tmpdir(), 'trpc-idempotency-migrations-'));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The store works on the table: a claim, then a lookup. */
async function expectStoreWorksOn(store: AnyIdempotencyStore) {
  const key = `k-${Math.random()}`;
  const claim = await store.claim({
    scope: 's',
    key,
    path: 'p',
    fingerprint: 'f',
    owner: 'o',
    now: 1,
    leaseExpiresAt: 100,
    expiresAt: 100,
  });
  expect(claim.acquired).toBe(true);
  expect(await store.find({ scope: 's', key, now: 2 })).toMatchObject({ owner: 'o' });
}

/** Columns added after the first release: all of them must be there after any migration. */
const ADDED_COLUMNS = ['steps', 'response_expires_at_ms', 'trace_context'];
/** How many migrations the package ships. */
const SHIPPED = readMigrationFiles({ migrationsFolder: shippedMigrationsFolder('sqlite') }).length;

/** A completed record as the release before tombstones stored it: replayed until 5000. */
const OLD_COMPLETED_ROW = `INSERT INTO idempotency_records (scope, key, path, fingerprint, state, owner,
  attempt, lease_expires_at_ms, expires_at_ms, created_at_ms, completed_at_ms, outcome_kind, response)
  VALUES ('s', 'old-key', 'p', 'f', 'completed', 'o', 1, 1000, 5000, 1000, 1000, 'result', '{"id":1}')`;

/**
 * The old record after the upgrade: it replays until its expiry, with no
 * tombstone (it has no horizon); purge leaves it until then, deletes it after.
 */
async function expectOldRecordReplays(store: AnyIdempotencyStore) {
  const record = await store.find({ scope: 's', key: 'old-key', now: 4999 });
  expect(record).toMatchObject({
    state: 'completed',
    completedAt: 1000,
    expiresAt: 5000,
    outcome: { kind: 'result', body: '{"id":1}' },
  });
  expect(record?.responseExpiresAt).toBeUndefined();
  expect(record?.traceContext).toBeUndefined();
  expect(isTombstone(record!, 4999)).toBe(false);
  expect(await store.purge({ now: 4999 })).toBe(0);
  expect(await store.find({ scope: 's', key: 'old-key', now: 5000 })).toBeUndefined();
  expect(await store.purge({ now: 5000 })).toBe(1);
}

/**
 * What an app's own drizzle-kit setup makes of the exported table: a schema
 * file that re-exports it beside the app's tables, and `drizzle-kit generate`.
 */
async function generateAppMigrations(dialect: 'sqlite' | 'pg', dir: string) {
  const schema = join(dir, 'schema.ts');
  writeFileSync(
    schema,
    `export { idempotencyRecords } from '${join(root, 'src', dialect, 'schema')}';\n`,
  );
  const out = join(dir, 'drizzle');
  await run(
    join(root, 'node_modules/.bin/drizzle-kit'),
    [
      'generate',
      '--dialect',
      dialect === 'pg' ? 'postgresql' : 'sqlite',
      '--schema',
      schema,
      '--out',
      out,
    ],
    { cwd: dir },
  );
  return out;
}

/** The records table as this package's release before `steps` left it, migrations table included. */
const PREVIOUS_RELEASE = {
  sqlite: `CREATE TABLE idempotency_records (scope text NOT NULL, key text NOT NULL, path text NOT NULL,
    fingerprint text NOT NULL, state text NOT NULL, owner text NOT NULL, attempt integer NOT NULL,
    lease_expires_at_ms integer NOT NULL, expires_at_ms integer NOT NULL, created_at_ms integer NOT NULL,
    completed_at_ms integer, outcome_kind text, response text, PRIMARY KEY(scope, key)) WITHOUT ROWID;
    CREATE INDEX idempotency_records_expires_at_idx ON idempotency_records (expires_at_ms);`,
  pg: `CREATE TABLE idempotency_records (scope text NOT NULL, key text NOT NULL, path text NOT NULL,
    fingerprint text NOT NULL, state text NOT NULL, owner text NOT NULL, attempt integer NOT NULL,
    lease_expires_at_ms bigint NOT NULL, expires_at_ms bigint NOT NULL, created_at_ms bigint NOT NULL,
    completed_at_ms bigint, outcome_kind text, response text,
    CONSTRAINT idempotency_records_scope_key_pk PRIMARY KEY(scope, key));
    CREATE INDEX idempotency_records_expires_at_idx ON idempotency_records USING btree (expires_at_ms);`,
};

describe('the shipped migrations', () => {
  it.each(['sqlite', 'pg', 'mysql'] as const)(
    '%s: match the schema (drizzle-kit finds nothing to generate)',
    async (dialect) => {
      using folder = tempFolder();
      const out = join(folder.dir, 'drizzle');
      cpSync(shippedMigrationsFolder(dialect), out, { recursive: true });
      const before = readdirSync(out).sort();
      const { stdout, stderr } = await run(
        join(root, 'node_modules/.bin/drizzle-kit'),
        [
          'generate',
          '--dialect',
          dialect === 'pg' ? 'postgresql' : dialect,
          '--schema',
          join(root, 'src', dialect, 'schema.ts'),
          '--out',
          'drizzle', // relative to cwd: drizzle-kit misreads an absolute folder's snapshots
        ],
        { cwd: folder.dir },
      );
      expect(stdout + stderr).toContain('No schema changes');
      expect(readdirSync(out).sort()).toEqual(before);
    },
  );

  it('create only what is missing, so they run beside drizzle-kit-made tables', () => {
    for (const dialect of ['sqlite', 'pg', 'mysql'] as const) {
      for (const migration of readMigrationFiles({
        migrationsFolder: shippedMigrationsFolder(dialect),
      })) {
        for (const statement of migration.sql.map((s) => s.trim()).filter(Boolean)) {
          expect(statement, dialect).toMatch(
            /^(CREATE TABLE IF NOT EXISTS|CREATE INDEX IF NOT EXISTS|DROP INDEX IF EXISTS|ALTER TABLE \S+ ADD (COLUMN IF NOT EXISTS )?)/,
          );
        }
      }
    }
    // A rowid table: random keys make a WITHOUT ROWID table split its fat leaves on every insert.
    expect(
      readFileSync(join(shippedMigrationsFolder('sqlite'), '0000_idempotency_records.sql'), 'utf8'),
    ).not.toMatch(/WITHOUT ROWID/);
  });
});

describe('SQLite', () => {
  function openDatabase(dir: string) {
    const db = drizzleSqlite(new Database(join(dir, 'app.db')));
    return Object.assign(db, {
      columns: () =>
        db.$client
          .prepare<[], { name: string }>(
            "SELECT name FROM pragma_table_info('idempotency_records')",
          )
          .all()
          .map((row) => row.name),
      tableSql: () =>
        db.$client
          .prepare<[], { sql: string }>(
            "SELECT sql FROM sqlite_master WHERE name = 'idempotency_records'",
          )
          .get()?.sql,
      appliedMigrations: () =>
        db.$client
          .prepare<[], { n: number }>(`SELECT count(*) AS n FROM "${SQLITE_MIGRATIONS_TABLE}"`)
          .get()?.n,
      [Symbol.dispose]: () => db.$client.close(),
    });
  }

  const expectStoreWorks = (db: ReturnType<typeof openDatabase>) =>
    expectStoreWorksOn(sqliteIdempotencyStore({ db }));

  it('the package’s migrations alone: a rowid table with steps; again at every start', async () => {
    using folder = tempFolder();
    using db = openDatabase(folder.dir);
    migrateSqliteIdempotencyStore(db);
    migrateSqliteIdempotencyStore(db);
    expect(db.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    expect(db.tableSql()).not.toMatch(/WITHOUT ROWID/);
    expect(db.appliedMigrations()).toBe(SHIPPED);
    await expectStoreWorks(db);
  });

  it('your drizzle-kit migrations alone, and then the package’s too: one table, left as it is', async () => {
    using folder = tempFolder();
    const migrationsFolder = await generateAppMigrations('sqlite', folder.dir);
    using db = openDatabase(folder.dir);
    migrateSqliteWithDrizzle(db, { migrationsFolder });
    expect(db.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    await expectStoreWorks(db);
    const before = db.tableSql();
    migrateSqliteIdempotencyStore(db);
    expect(db.tableSql()).toBe(before);
    expect(db.appliedMigrations()).toBe(SHIPPED);
    await expectStoreWorks(db);
  });

  it('adds steps to a table made by the previous release, or by a drizzle-kit schema without it', async () => {
    using folder = tempFolder();
    using db = openDatabase(folder.dir);
    db.$client.exec(PREVIOUS_RELEASE.sqlite);
    // What drizzle's migrator recorded when the previous release ran its first migration.
    const [first] = readMigrationFiles({ migrationsFolder: shippedMigrationsFolder('sqlite') });
    db.$client.exec(
      `CREATE TABLE "${SQLITE_MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
    );
    db.$client
      .prepare(`INSERT INTO "${SQLITE_MIGRATIONS_TABLE}" (hash, created_at) VALUES (?, ?)`)
      .run(first!.hash, first!.folderMillis);
    expect(db.columns()).not.toContain('steps');
    migrateSqliteIdempotencyStore(db);
    expect(db.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    expect(db.appliedMigrations()).toBe(SHIPPED);

    using other = tempFolder();
    using unrecorded = openDatabase(other.dir);
    unrecorded.$client.exec(PREVIOUS_RELEASE.sqlite.replace(' WITHOUT ROWID', ''));
    migrateSqliteIdempotencyStore(unrecorded);
    expect(unrecorded.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));

    // The previous release's WITHOUT ROWID table keeps working as it is.
    using third = tempFolder();
    using withoutRowid = openDatabase(third.dir);
    withoutRowid.$client.exec(PREVIOUS_RELEASE.sqlite);
    migrateSqliteIdempotencyStore(withoutRowid);
    expect(withoutRowid.tableSql()).toMatch(/WITHOUT ROWID$/);
    expect(withoutRowid.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    await expectStoreWorks(withoutRowid);
  });

  it('adds the tombstone and trace columns to the release before them; its records still replay', async () => {
    using folder = tempFolder();
    using db = openDatabase(folder.dir);
    db.$client.exec(PREVIOUS_RELEASE.sqlite.replace(' WITHOUT ROWID', ''));
    db.$client.exec('ALTER TABLE idempotency_records ADD steps text');
    db.$client.exec(OLD_COMPLETED_ROW);
    db.$client.exec(
      `CREATE TABLE "${SQLITE_MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at numeric)`,
    );
    const shipped = readMigrationFiles({ migrationsFolder: shippedMigrationsFolder('sqlite') });
    for (const migration of shipped.slice(0, 2)) {
      db.$client
        .prepare(`INSERT INTO "${SQLITE_MIGRATIONS_TABLE}" (hash, created_at) VALUES (?, ?)`)
        .run(migration.hash, migration.folderMillis);
    }
    expect(db.columns()).not.toContain('trace_context');
    migrateSqliteIdempotencyStore(db);
    expect(db.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    expect(db.appliedMigrations()).toBe(SHIPPED);
    const indexes = db.$client
      .prepare<[], { name: string }>(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'idempotency_records' AND sql IS NOT NULL ORDER BY name",
      )
      .all()
      .map((row) => row.name);
    // The expiry index of the release before is replaced by purge's one walk (schema.ts `purgeAt`).
    expect(indexes).toEqual(['idempotency_records_purge_at_idx']);
    await expectOldRecordReplays(sqliteIdempotencyStore({ db }));
  });
});

describe('Postgres', () => {
  let server: PostgresServer;
  const pools: pg.Pool[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    for (const cleanup of cleanups) await cleanup();
    await server?.[Symbol.asyncDispose]();
  });

  async function freshDatabase() {
    const database = await createTestDatabase(server.url);
    cleanups.push(async () => {
      await database[Symbol.asyncDispose]();
    });
    const pool = new pg.Pool({ connectionString: database.url, max: 2 });
    pools.push(pool);
    const db = drizzlePg({ client: pool });
    const query = async <T>(text: string) => (await pool.query(text)).rows as T[];
    return Object.assign(db, {
      query,
      columns: async () =>
        (
          await query<{ column_name: string }>(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'idempotency_records'",
          )
        ).map((row) => row.column_name),
      appliedMigrations: async () =>
        (
          await query<{ n: number }>(
            `SELECT count(*)::int AS n FROM drizzle."${PG_MIGRATIONS_TABLE}"`,
          )
        )[0]?.n,
    });
  }

  const expectStoreWorks = (db: Awaited<ReturnType<typeof freshDatabase>>) =>
    expectStoreWorksOn(pgIdempotencyStore({ db }));

  it('the package’s migrations alone: the table with steps; again at every start, also at once', async () => {
    const db = await freshDatabase();
    await Promise.all([migratePgIdempotencyStore(db), migratePgIdempotencyStore(db)]);
    await migratePgIdempotencyStore(db);
    expect(await db.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    expect(await db.appliedMigrations()).toBe(SHIPPED);
    await expectStoreWorks(db);
  });

  it('your drizzle-kit migrations alone, and then the package’s too', async () => {
    using folder = tempFolder();
    const migrationsFolder = await generateAppMigrations('pg', folder.dir);
    const db = await freshDatabase();
    await migratePgWithDrizzle(db, { migrationsFolder });
    expect(await db.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    await expectStoreWorks(db);
    await migratePgIdempotencyStore(db);
    expect(await db.appliedMigrations()).toBe(SHIPPED);
    const indexes = await db.query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE tablename = 'idempotency_records' ORDER BY indexname",
    );
    expect(indexes.map((row) => row.indexname)).toEqual([
      'idempotency_records_expires_at_idx',
      'idempotency_records_response_expires_at_idx',
      'idempotency_records_scope_key_pk',
    ]);
    await expectStoreWorks(db);
  });

  it('adds steps to a table made by the previous release', async () => {
    const db = await freshDatabase();
    await db.query(PREVIOUS_RELEASE.pg);
    const [first] = readMigrationFiles({ migrationsFolder: shippedMigrationsFolder('pg') });
    await db.query(`CREATE SCHEMA drizzle;
      CREATE TABLE drizzle."${PG_MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
      INSERT INTO drizzle."${PG_MIGRATIONS_TABLE}" (hash, created_at) VALUES ('${first!.hash}', ${first!.folderMillis})`);
    expect(await db.columns()).not.toContain('steps');
    await migratePgIdempotencyStore(db);
    expect(await db.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    expect(await db.appliedMigrations()).toBe(SHIPPED);
  });

  it('adds the tombstone and trace columns to the release before them; its records still replay', async () => {
    const db = await freshDatabase();
    await db.query(PREVIOUS_RELEASE.pg);
    await db.query('ALTER TABLE idempotency_records ADD COLUMN steps text');
    await db.query(OLD_COMPLETED_ROW);
    const shipped = readMigrationFiles({ migrationsFolder: shippedMigrationsFolder('pg') });
    await db.query(`CREATE SCHEMA drizzle;
      CREATE TABLE drizzle."${PG_MIGRATIONS_TABLE}" (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint);
      INSERT INTO drizzle."${PG_MIGRATIONS_TABLE}" (hash, created_at) VALUES ${shipped
        .slice(0, 2)
        .map((migration) => `('${migration.hash}', ${migration.folderMillis})`)
        .join(', ')}`);
    expect(await db.columns()).not.toContain('trace_context');
    await migratePgIdempotencyStore(db);
    expect(await db.columns()).toEqual(expect.arrayContaining(ADDED_COLUMNS));
    expect(await db.appliedMigrations()).toBe(SHIPPED);
    await expectOldRecordReplays(pgIdempotencyStore({ db }));
  });
});
