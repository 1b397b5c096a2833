import { describe, expect, it } from 'vitest';
import { DatabaseUrlError, parseDatabaseUrl } from './databaseUrl';

describe('parseDatabaseUrl', () => {
  it.each([
    ['postgres://u:p@db:5432/app', 'postgres://u:p@db:5432/app'],
    ['POSTGRES://db/app', 'postgres://db/app'],
    ['PostgreSQL://db/app?sslmode=require', 'postgresql://db/app?sslmode=require'],
  ])('reads %j as Postgres, the scheme lowered: %j', (url, connectionString) => {
    expect(parseDatabaseUrl(url)).toEqual({ kind: 'postgres', connectionString });
  });

  it.each([
    ['file:data/app.db', 'data/app.db'],
    ['FILE:/tmp/app.db', '/tmp/app.db'],
    ['file:///tmp/app.db', '/tmp/app.db'],
    ['/tmp/app.db', '/tmp/app.db'],
    ['app.db', 'app.db'],
    ['./backup:2024.db', './backup:2024.db'],
    ['C:\\data\\app.db', 'C:\\data\\app.db'],
    [':memory:', ':memory:'],
  ])('reads %j as the SQLite file %j', (url, path) => {
    expect(parseDatabaseUrl(url)).toEqual({ kind: 'sqlite', path });
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
