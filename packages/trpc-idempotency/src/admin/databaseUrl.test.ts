import { describe, expect, it } from 'vitest';
import { DatabaseUrlError, parseDatabaseUrl } from './databaseUrl';

describe('parseDatabaseUrl', () => {
  const postgres = (connectionString: string) => ({ kind: 'postgres', connectionString });
  const sqliteFile = (path: string) => ({ kind: 'sqlite', path });

  it.each([
    // postgres:// and postgresql:// in any case, the scheme lowered
    ['postgres://u:p@db:5432/app', postgres('postgres://u:p@db:5432/app')],
    ['POSTGRES://db/app', postgres('postgres://db/app')],
    ['PostgreSQL://db/app?sslmode=require', postgres('postgresql://db/app?sslmode=require')],
    // file:PATH, file:///PATH and plain paths
    ['file:data/app.db', sqliteFile('data/app.db')],
    ['FILE:/tmp/app.db', sqliteFile('/tmp/app.db')],
    ['file:///tmp/app.db', sqliteFile('/tmp/app.db')],
    ['/tmp/app.db', sqliteFile('/tmp/app.db')],
    ['app.db', sqliteFile('app.db')],
    ['./backup:2024.db', sqliteFile('./backup:2024.db')],
    ['C:\\data\\app.db', sqliteFile('C:\\data\\app.db')],
    [':memory:', sqliteFile(':memory:')],
  ])('reads %j as %j', (url, database) => {
    expect(parseDatabaseUrl(url)).toEqual(database);
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
