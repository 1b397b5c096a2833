import { describe, expect, it } from 'vitest';
import { DatabaseUrlError, parseDatabaseUrl } from './databaseUrl';

describe('parseDatabaseUrl', () => {
  it('reads postgres:// and postgresql:// in any case as Postgres, the scheme lowered', () => {
    expect(parseDatabaseUrl('postgres://u:p@db:5432/app')).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://u:p@db:5432/app',
    });
    expect(parseDatabaseUrl('POSTGRES://db/app')).toEqual({
      kind: 'postgres',
      connectionString: 'postgres://db/app',
    });
    expect(parseDatabaseUrl('PostgreSQL://db/app?sslmode=require')).toEqual({
      kind: 'postgres',
      connectionString: 'postgresql://db/app?sslmode=require',
    });
  });

  it('reads file:PATH, file:///PATH and plain paths as SQLite files', () => {
    expect(parseDatabaseUrl('file:data/app.db')).toEqual({ kind: 'sqlite', path: 'data/app.db' });
    expect(parseDatabaseUrl('FILE:/tmp/app.db')).toEqual({ kind: 'sqlite', path: '/tmp/app.db' });
    expect(parseDatabaseUrl('file:///tmp/app.db')).toEqual({ kind: 'sqlite', path: '/tmp/app.db' });
    expect(parseDatabaseUrl('/tmp/app.db')).toEqual({ kind: 'sqlite', path: '/tmp/app.db' });
    expect(parseDatabaseUrl('app.db')).toEqual({ kind: 'sqlite', path: 'app.db' });
    expect(parseDatabaseUrl('./backup:2024.db')).toEqual({
      kind: 'sqlite',
      path: './backup:2024.db',
    });
    expect(parseDatabaseUrl('C:\\data\\app.db')).toEqual({
      kind: 'sqlite',
      path: 'C:\\data\\app.db',
    });
    expect(parseDatabaseUrl(':memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
  });

  it.each([
    ['mysql://root@localhost/app', /unsupported DATABASE_URL scheme "mysql:"/],
    ['sqlite:///tmp/app.db', /unsupported DATABASE_URL scheme "sqlite:"/],
    ['postgres:app', /unsupported DATABASE_URL scheme "postgres:"/],
    ['backup:2024.db', /unsupported DATABASE_URL scheme "backup:"/],
    ['file://server/share/app.db', /names a host: write file:\/\/\/ABSOLUTE\/PATH/],
    ['file:', /names no file/],
    ['', /is empty/],
    ['  ', /is empty/],
    [' postgres://db/app', /has spaces around it/],
  ])('refuses %j', (url, message) => {
    expect(() => parseDatabaseUrl(url)).toThrow(DatabaseUrlError);
    expect(() => parseDatabaseUrl(url)).toThrow(message);
  });

  it('never repeats a password in its message', () => {
    expect(() => parseDatabaseUrl('mysql://root:hunter2@db/app')).toThrow(
      'unsupported DATABASE_URL scheme "mysql:" in "mysql://root:***@db/app"',
    );
  });
});
