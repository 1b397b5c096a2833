/**
 * Every public entry, by audience: what it exports at run time (a change is a
 * deliberate API change, seen in review), and that each export is documented
 * in the README, so nothing undocumented ships.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
};

const entries: Record<string, { source: string; exports: string[] }> = {
  '.': {
    source: '../src/index.ts',
    exports: [
      'IDEMPOTENCY_KEY_FIELD',
      'IDEMPOTENCY_REASONS',
      'IdempotencyError',
      'LeaseLostError',
      'ReplayedErrorCause',
      'canonicalEncoding',
      'fingerprintInput',
      'getIdempotencyErrorData',
      'idempotencyResponseContext',
      'idempotencyResponseHeaders',
      'idempotentPaths',
      'idempotentProcedure',
      'isFinalErrorDefault',
    ],
  },
  './sqlite': {
    source: '../src/sqlite/index.ts',
    exports: [
      'SQLITE_MIGRATIONS_TABLE',
      'idempotencyRecords',
      'migrateSqliteIdempotencyStore',
      'sqliteIdempotencyStore',
    ],
  },
  './pg': {
    source: '../src/pg/index.ts',
    exports: [
      'PG_MIGRATIONS_TABLE',
      'idempotencyRecords',
      'migratePgIdempotencyStore',
      'pgIdempotencyStore',
    ],
  },
  './store': {
    source: '../src/store/index.ts',
    exports: ['LeaseLostError', 'checkPurgeOptions', 'isLive', 'isReplaceable'],
  },
  './admin': {
    source: '../src/admin/index.ts',
    exports: [
      'DatabaseUnavailableError',
      'DatabaseUrlError',
      'openIdempotencyAdmin',
      'parseDatabaseUrl',
    ],
  },
  './testing': {
    source: '../src/testing/index.ts',
    exports: ['describeIdempotencyStoreConformance'],
  },
};

describe('the package’s entry points', () => {
  it('are the ones package.json exports (client and react-query have their own tests)', () => {
    expect(Object.keys(manifest.exports).sort()).toEqual(
      [...Object.keys(entries), './client', './react-query', './package.json'].sort(),
    );
  });

  for (const [entry, { source, exports }] of Object.entries(entries)) {
    it(`${entry} exports exactly its documented API`, async () => {
      const module = (await import(source)) as Record<string, unknown>;
      expect(Object.keys(module).sort()).toEqual([...exports].sort());
      for (const name of exports) expect(readme, `${entry}: ${name}`).toContain(name);
    });
  }
});
