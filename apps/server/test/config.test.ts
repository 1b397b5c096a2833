import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig } from '../src/config';
import { DatabaseUrlError, defaultDatabaseUrl, openDatabase, sqlitePath } from '../src/database';

const repositoryRoot = fileURLToPath(new URL('../../..', import.meta.url));

describe('readConfig', () => {
  it('has the defaults of SPEC section 9', () => {
    expect(readConfig({})).toEqual({
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: `file:${join(repositoryRoot, 'data', 'ledger.db')}`,
      busyTimeoutMs: 5000,
      logLevel: 'info',
      transferDelayMs: 0,
      inFlight: { timeoutMs: 5000, retryAfterMs: 1000 },
      shutdownTimeoutMs: 10_000,
    });
  });

  it('reads every variable', () => {
    expect(
      readConfig({
        PORT: '0',
        HOST: '::1',
        DATABASE_URL: 'file:/tmp/x.db',
        SQLITE_BUSY_TIMEOUT_MS: '100',
        LOG_LEVEL: 'SILENT',
        LEDGER_TRANSFER_DELAY_MS: '250',
        IDEMPOTENCY_WAIT_MS: '0',
        IDEMPOTENCY_RETRY_AFTER_MS: '1500',
        SHUTDOWN_TIMEOUT_MS: '2000',
      }),
    ).toEqual({
      port: 0,
      host: '::1',
      databaseUrl: 'file:/tmp/x.db',
      busyTimeoutMs: 100,
      logLevel: 'silent',
      transferDelayMs: 250,
      inFlight: { timeoutMs: 0, retryAfterMs: 1500 },
      shutdownTimeoutMs: 2000,
    });
  });

  it('refuses unusable values with the variable name', () => {
    expect(() => readConfig({ PORT: '70000' })).toThrow(ConfigError);
    expect(() => readConfig({ PORT: 'http' })).toThrow(/PORT must be an integer/);
    expect(() => readConfig({ LEDGER_TRANSFER_DELAY_MS: '-1' })).toThrow(
      /LEDGER_TRANSFER_DELAY_MS/,
    );
    expect(() => readConfig({ IDEMPOTENCY_RETRY_AFTER_MS: '0' })).toThrow(/from 1/);
    expect(() => readConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL must be one of/);
  });
});

describe('openDatabase', () => {
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

  it('says Postgres is not available yet, and refuses other schemes', () => {
    expect(() => openDatabase('postgres://user@localhost/ledger')).toThrow(
      'Postgres support: not available yet',
    );
    expect(() => openDatabase('postgresql://localhost/ledger')).toThrow(/not available yet/);
    expect(() => openDatabase('mysql://localhost/ledger')).toThrow(
      /unsupported DATABASE_URL scheme/,
    );
  });

  it('creates the folder and migrates a new file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-open-'));
    try {
      const database = openDatabase(`file:${join(dir, 'nested', 'deeper', 'ledger.db')}`);
      const tables = database.db.$client
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all();
      expect(tables).toEqual(
        expect.arrayContaining(['accounts', 'transfers', 'idempotency_records']),
      );
      expect(database.db.$client.pragma('journal_mode', { simple: true })).toBe('wal');
      database.close();
      expect(existsSync(join(dir, 'nested', 'deeper', 'ledger.db'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
