import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import {
  DatabaseUrlError as LibraryDatabaseUrlError,
  parseDatabaseUrl,
} from 'trpc-idempotency/admin';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../src/config';
import {
  DatabaseUrlError,
  databaseKind,
  defaultDatabaseUrl,
  openDatabase,
  sqlitePath,
} from '../src/database';
import { PAYOUT_PAUSE_POINTS } from '../src/payouts';

const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));

describe('readConfig', () => {
  it('has the defaults the README gives', () => {
    expect(readConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: `file:${join(repositoryRoot, 'data', 'ledger.db')}`,
      busyTimeoutMs: 5000,
      poolSize: 10,
      pgLockTimeoutMs: 5000,
      pgDriver: 'node-postgres',
      logLevel: 'info',
      transferDelayMs: 0,
      inFlight: { timeoutMs: 5000, retryAfterMs: 1000 },
      leaseMs: 30_000,
      ttlMs: 24 * 60 * 60 * 1000,
      horizonMs: 30 * 24 * 60 * 60 * 1000,
      maxBatchSize: 100,
      shutdownTimeoutMs: 10_000,
      payoutGatewayUrl: undefined,
      payoutGatewayTimeoutMs: 10_000,
      payoutDelayMs: 0,
      payoutDelayAt: [...PAYOUT_PAUSE_POINTS],
    });
  });

  it('reads every variable', () => {
    expect(
      readConfig({
        PORT: '0',
        HOST: '::1',
        DATABASE_URL: 'file:/tmp/x.db',
        SQLITE_BUSY_TIMEOUT_MS: '100',
        DATABASE_POOL_SIZE: '3',
        PG_LOCK_TIMEOUT_MS: '250',
        PG_DRIVER: 'postgres.js',
        LOG_LEVEL: 'SILENT',
        LEDGER_TRANSFER_DELAY_MS: '250',
        IDEMPOTENCY_WAIT_MS: '0',
        IDEMPOTENCY_RETRY_AFTER_MS: '1500',
        IDEMPOTENCY_LEASE_MS: '2000',
        IDEMPOTENCY_TTL_MS: '60000',
        IDEMPOTENCY_HORIZON_MS: '120000',
        TRPC_MAX_BATCH_SIZE: '20',
        SHUTDOWN_TIMEOUT_MS: '2000',
        PAYOUT_GATEWAY_URL: 'http://127.0.0.1:4000/gateway',
        PAYOUT_GATEWAY_TIMEOUT_MS: '1500',
        LEDGER_PAYOUT_DELAY_MS: '100',
        LEDGER_PAYOUT_DELAY_AT: 'in-pay, after-record,',
      }),
    ).toEqual({
      port: 0,
      host: '::1',
      databaseUrl: 'file:/tmp/x.db',
      busyTimeoutMs: 100,
      poolSize: 3,
      pgLockTimeoutMs: 250,
      pgDriver: 'postgres.js',
      logLevel: 'silent',
      transferDelayMs: 250,
      inFlight: { timeoutMs: 0, retryAfterMs: 1500 },
      leaseMs: 2000,
      ttlMs: 60_000,
      horizonMs: 120_000,
      maxBatchSize: 20,
      shutdownTimeoutMs: 2000,
      payoutGatewayUrl: 'http://127.0.0.1:4000/gateway',
      payoutGatewayTimeoutMs: 1500,
      payoutDelayMs: 100,
      payoutDelayAt: ['in-pay', 'after-record'],
    });
  });

  it('refuses unusable values with the variable name', () => {
    expect(() => readConfig({ PORT: '70000' })).toThrow(ConfigError);
    expect(() => readConfig({ PORT: 'http' })).toThrow(/PORT must be an integer/);
    expect(() => readConfig({ LEDGER_TRANSFER_DELAY_MS: '-1' })).toThrow(
      /LEDGER_TRANSFER_DELAY_MS/,
    );
    expect(() => readConfig({ IDEMPOTENCY_RETRY_AFTER_MS: '0' })).toThrow(/from 1/);
    expect(() => readConfig({ DATABASE_POOL_SIZE: '0' })).toThrow(/DATABASE_POOL_SIZE.*from 1/);
    // 0 would mean "wait forever" to Postgres.
    expect(() => readConfig({ PG_LOCK_TIMEOUT_MS: '0' })).toThrow(/PG_LOCK_TIMEOUT_MS.*from 1/);
    expect(() => readConfig({ PG_DRIVER: 'pglite' })).toThrow(
      /PG_DRIVER must be node-postgres or postgres\.js; got pglite/,
    );
    expect(() => readConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
    expect(() => readConfig({ TRPC_MAX_BATCH_SIZE: '0' })).toThrow(/TRPC_MAX_BATCH_SIZE.*from 1/);
    expect(() => readConfig({ TRPC_MAX_BATCH_SIZE: 'none' })).toThrow(/TRPC_MAX_BATCH_SIZE/);
    expect(() => readConfig({ IDEMPOTENCY_LEASE_MS: '0' })).toThrow(/IDEMPOTENCY_LEASE_MS.*from 1/);
    expect(() => readConfig({ IDEMPOTENCY_TTL_MS: '1.5' })).toThrow(/IDEMPOTENCY_TTL_MS/);
    expect(() => readConfig({ IDEMPOTENCY_TTL_MS: '-1' })).toThrow(/IDEMPOTENCY_TTL_MS/);
    expect(() => readConfig({ PAYOUT_GATEWAY_URL: '127.0.0.1:4000' })).toThrow(
      /PAYOUT_GATEWAY_URL must be an http:\/\/ or https:\/\/ URL; got 127\.0\.0\.1:4000/,
    );
    expect(() => readConfig({ PAYOUT_GATEWAY_URL: 'ftp://gateway' })).toThrow(/PAYOUT_GATEWAY_URL/);
    expect(() => readConfig({ PAYOUT_GATEWAY_TIMEOUT_MS: '0' })).toThrow(
      /PAYOUT_GATEWAY_TIMEOUT_MS.*from 1/,
    );
    expect(() => readConfig({ LEDGER_PAYOUT_DELAY_MS: 'soon' })).toThrow(/LEDGER_PAYOUT_DELAY_MS/);
    expect(() => readConfig({ LEDGER_PAYOUT_DELAY_AT: 'in-pay,mid-pay' })).toThrow(
      /LEDGER_PAYOUT_DELAY_AT must list points among before-reserve, .*; got mid-pay/,
    );
  });

  it('keeps the horizon at or above the TTL: its default follows a longer TTL, a shorter one is refused', () => {
    const days = (n: number) => String(n * 24 * 60 * 60 * 1000);
    expect(readConfig({ IDEMPOTENCY_TTL_MS: days(60) })).toMatchObject({
      ttlMs: Number(days(60)),
      horizonMs: Number(days(60)),
    });
    expect(
      readConfig({ IDEMPOTENCY_TTL_MS: '1000', IDEMPOTENCY_HORIZON_MS: '1000' }),
    ).toMatchObject({ ttlMs: 1000, horizonMs: 1000 });
    expect(() =>
      readConfig({ IDEMPOTENCY_TTL_MS: '2000', IDEMPOTENCY_HORIZON_MS: '1999' }),
    ).toThrow(/IDEMPOTENCY_HORIZON_MS \(1999\) must be at least IDEMPOTENCY_TTL_MS \(2000\)/);
    expect(() => readConfig({ IDEMPOTENCY_HORIZON_MS: days(1 - 1) })).toThrow(ConfigError);
    expect(() => readConfig({ IDEMPOTENCY_HORIZON_MS: 'forever' })).toThrow(
      /IDEMPOTENCY_HORIZON_MS must be an integer/,
    );
  });

  it('accepts a TTL shorter than the lease (the library keeps a key for its whole lease)', () => {
    expect(readConfig({ IDEMPOTENCY_LEASE_MS: '5000', IDEMPOTENCY_TTL_MS: '1000' })).toMatchObject({
      leaseMs: 5000,
      ttlMs: 1000,
    });
  });

  it('defaults to data/ledger.db at the repository root', () => {
    expect(defaultDatabaseUrl()).toBe(`file:${join(repositoryRoot, 'data', 'ledger.db')}`);
  });

  it('reads file:PATH, file:///PATH and plain paths, relative to the current directory', () => {
    expect(sqlitePath('file:/tmp/a.db')).toBe('/tmp/a.db');
    expect(sqlitePath('file:///tmp/a.db')).toBe('/tmp/a.db');
    expect(sqlitePath('/tmp/a.db')).toBe('/tmp/a.db');
    expect(sqlitePath('file:data/a.db')).toBe(resolve('data/a.db'));
    expect(sqlitePath('a.db')).toBe(resolve('a.db'));
    expect(() => sqlitePath('file:')).toThrow(DatabaseUrlError);
  });

  it('selects Postgres for postgres:// and postgresql://, MySQL for mysql://, SQLite for files, and refuses other schemes', async () => {
    expect(databaseKind('postgres://user@localhost/ledger')).toBe('postgres');
    expect(databaseKind('postgresql://localhost/ledger')).toBe('postgres');
    expect(databaseKind('POSTGRES://localhost/ledger')).toBe('postgres');
    expect(databaseKind('file:/tmp/a.db')).toBe('sqlite');
    expect(databaseKind('data/a.db')).toBe('sqlite');
    expect(() => databaseKind('mariadb://localhost/ledger')).toThrow(DatabaseUrlError);
    await expect(openDatabase('mariadb://localhost/ledger')).rejects.toThrow(
      /unsupported DATABASE_URL scheme/,
    );
    // MySQL and MariaDB: mysql:// in any case (the library's reader; mariadb:// is not a scheme it reads).
    expect(databaseKind('mysql://user:pw@localhost:3306/ledger')).toBe('mysql');
    expect(databaseKind('MySQL://localhost/ledger')).toBe('mysql');
    expect(() => sqlitePath('mysql://localhost/ledger')).toThrow(
      /DATABASE_URL names a MySQL database, not a SQLite file/,
    );
  });

  it('refuses a remote libSQL database, which the library reads but this ledger does not run on', async () => {
    expect(() => databaseKind('libsql://ledger.example.turso.io')).toThrow(
      /not on a remote libSQL database/,
    );
    await expect(openDatabase('libsql://127.0.0.1:8080?tls=0')).rejects.toThrow(DatabaseUrlError);
    expect(() => sqlitePath('https://ledger.example.turso.io')).toThrow(DatabaseUrlError);
  });

  it('reads DATABASE_URL with the library parser the trpc-idempotency command uses', () => {
    // One reader, one error class: what the CLI refuses, the server refuses with the same words.
    expect(DatabaseUrlError).toBe(LibraryDatabaseUrlError);
    for (const url of [
      'mariadb://root@localhost/ledger',
      'sqlite:///tmp/a.db',
      'postgres:ledger',
      'file://otherhost/a.db',
      ' postgres://localhost/ledger',
      '',
    ]) {
      let refused: unknown;
      try {
        databaseKind(url);
      } catch (error) {
        refused = error;
      }
      expect(refused, url).toBeInstanceOf(DatabaseUrlError);
      expect(() => parseDatabaseUrl(url)).toThrow((refused as Error).message);
    }
    expect(databaseKind('PostgreSQL://localhost/ledger')).toBe('postgres');
    expect(() => sqlitePath('postgres://localhost/ledger')).toThrow(DatabaseUrlError);
  });

  it('names an unreachable Postgres database, without its password', async () => {
    const error = await openDatabase('postgres://ledger:s3cret@127.0.0.1:1/ledger').then(
      () => expect.fail('expected a rejection'),
      (error: unknown) => error as Error,
    );
    expect(error.message).toMatch(
      /^cannot open the Postgres database postgres:\/\/ledger@127\.0\.0\.1:1\/ledger: .*ECONNREFUSED/,
    );
    expect(error.message).not.toContain('s3cret');
  });

  it('reopens a file migrated from the former migrations folder without migrating it again', async () => {
    // Before Postgres, the SQLite migrations lived in drizzle/ itself; they moved to
    // drizzle/sqlite unchanged, and drizzle tracks them by timestamp and hash, not by path.
    // That folder had the first migration only: the payout tables come with the reopening.
    const dir = mkdtempSync(join(tmpdir(), 'ledger-moved-'));
    try {
      const formerFolder = join(dir, 'drizzle');
      cpSync(fileURLToPath(new URL('../drizzle/sqlite', import.meta.url)), formerFolder, {
        recursive: true,
      });
      const journalFile = join(formerFolder, 'meta', '_journal.json');
      const journal = JSON.parse(readFileSync(journalFile, 'utf8')) as { entries: unknown[] };
      writeFileSync(
        journalFile,
        JSON.stringify({ ...journal, entries: journal.entries.slice(0, 1) }),
      );
      const file = join(dir, 'ledger.db');
      const client = new Database(file);
      migrate(drizzle(client), {
        migrationsFolder: formerFolder,
        migrationsTable: '__ledger_migrations',
      });
      client
        .prepare(
          "INSERT INTO accounts (id, owner, balance, opening_balance, opened_by, created_at_ms) VALUES ('acc_old', 'Old', 5, 5, 'alice', 0)",
        )
        .run();
      client.close();

      const database = await openDatabase(`file:${file}`);
      if (database.kind !== 'sqlite') expect.fail('a file is SQLite');
      expect(await database.ledger.getAccount('acc_old')).toEqual({
        id: 'acc_old',
        owner: 'Old',
        balance: 5,
      });
      // The first migration once, and the payouts' added.
      expect(
        database.db.$client.prepare('SELECT count(*) AS n FROM __ledger_migrations').get(),
      ).toEqual({ n: 2 });
      expect(database.db.$client.prepare('SELECT count(*) AS n FROM payout_holds').get()).toEqual({
        n: 0,
      });
      await database.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('creates the folder and migrates a new file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-open-'));
    try {
      const database = await openDatabase(`file:${join(dir, 'nested', 'deeper', 'ledger.db')}`);
      if (database.kind !== 'sqlite') expect.fail('a file is SQLite');
      const tables = database.db.$client
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      expect(tables).toEqual(
        expect.arrayContaining(['accounts', 'transfers', 'idempotency_records']),
      );
      expect(database.db.$client.pragma('journal_mode', { simple: true })).toBe('wal');
      // Lookups read the mapped file (BENCHMARKS.md, growth): 1 GiB.
      expect(database.db.$client.pragma('mmap_size', { simple: true })).toBe(2 ** 30);
      await database.close();
      expect(existsSync(join(dir, 'nested', 'deeper', 'ledger.db'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
