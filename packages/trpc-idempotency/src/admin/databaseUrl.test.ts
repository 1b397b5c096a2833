import { describe, expect, it } from 'vitest';
import { DatabaseUrlError, parseDatabaseUrl } from './databaseUrl';

describe('parseDatabaseUrl', () => {
  const postgres = (connectionString: string) => ({ kind: 'postgres', connectionString });
  const sqliteFile = (path: string) => ({ kind: 'sqlite', path });
  const libsql = (url: string) => ({ kind: 'libsql', url });
  const mysql = (uri: string) => ({ kind: 'mysql', uri });

  it.each([
    // postgres:// and postgresql:// in any case, the scheme lowered
    ['postgres://u:p@db:5432/app', postgres('postgres://u:p@db:5432/app')],
    ['POSTGRES://db/app', postgres('postgres://db/app')],
    ['PostgreSQL://db/app?sslmode=require', postgres('postgresql://db/app?sslmode=require')],
    // a remote libSQL database: Turso's libsql://, and the schemes @libsql/client reads
    ['libsql://app-org.turso.io?authToken=abc', libsql('libsql://app-org.turso.io?authToken=abc')],
    ['LIBSQL://127.0.0.1:8080?tls=0', libsql('libsql://127.0.0.1:8080?tls=0')],
    ['https://app-org.turso.io', libsql('https://app-org.turso.io')],
    ['http://127.0.0.1:8080', libsql('http://127.0.0.1:8080')],
    ['wss://app-org.turso.io', libsql('wss://app-org.turso.io')],
    ['ws://127.0.0.1:8080', libsql('ws://127.0.0.1:8080')],
    // mysql:// in any case, the scheme lowered
    ['mysql://u:p@db:3306/app', mysql('mysql://u:p@db:3306/app')],
    ['MySQL://db/app?ssl={}', mysql('mysql://db/app?ssl={}')],
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
    ['mariadb://root@localhost/app', /unsupported DATABASE_URL scheme "mariadb:"/],
    ['mysql:app', /unsupported DATABASE_URL scheme "mysql:"/],
    ['sqlite:///tmp/app.db', /unsupported DATABASE_URL scheme "sqlite:"/],
    ['postgres:app', /unsupported DATABASE_URL scheme "postgres:"/],
    ['libsql:app.db', /unsupported DATABASE_URL scheme "libsql:"/],
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

  it('never repeats a libSQL token in its message', () => {
    expect(() => parseDatabaseUrl('turso://app-org.turso.io?authToken=secret-token')).toThrow(
      '"turso://app-org.turso.io?authToken=***"',
    );
  });

  it('never repeats a password in its message', () => {
    expect(() => parseDatabaseUrl('mariadb://root:hunter2@db/app')).toThrow(
      'unsupported DATABASE_URL scheme "mariadb:" in "mariadb://root:***@db/app"',
    );
  });
});
