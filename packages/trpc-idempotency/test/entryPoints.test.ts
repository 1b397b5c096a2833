/**
 * Every public entry, by audience: what it exports at run time (a change is a
 * deliberate API change, seen in review), and that each export is documented
 * in the README, so nothing undocumented ships. The browser entries also
 * reach no Node code and no server runtime.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectBrowserSafe } from './helpers/browserSafety';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  exports: Record<string, unknown>;
};

const entries: Record<string, { source: string; exports: string[] }> = {
  '.': {
    source: '../src/index.ts',
    exports: [
      'IDEMPOTENCY_HORIZON_HEADER',
      'IDEMPOTENCY_SHOULD_RETRY_HEADER',
      'IDEMPOTENCY_KEY_FIELD',
      'IDEMPOTENCY_REASONS',
      'IdempotencyError',
      'KeyAnsweredElsewhere',
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
      'isUnfixableByRetry',
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
      'UnsupportedDriverError',
      'idempotencyRecords',
      'migratePgIdempotencyStore',
      'pgIdempotencyStore',
    ],
  },
  './memory': {
    source: '../src/memory/index.ts',
    exports: ['memoryIdempotencyStore'],
  },
  './mysql': {
    source: '../src/mysql/index.ts',
    exports: [
      'MYSQL_MIGRATIONS_TABLE',
      'idempotencyRecords',
      'migrateMysqlIdempotencyStore',
      'mysqlIdempotencyStore',
    ],
  },
  './store': {
    source: '../src/store/index.ts',
    exports: ['LeaseLostError', 'checkPurgeOptions', 'isLive', 'isReplaceable', 'isTombstone'],
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

/** The entries a browser app imports, with the files and packages each may reach. */
const browserEntries = [
  {
    entry: './client',
    source: '../src/client/index.ts',
    reaches: 'only @trpc and shared code',
    files: [
      '../shared/idempotentInput.ts',
      '../shared/randomKey.ts',
      '../shared/reasons.ts',
      '../shared/retention.ts',
      'errors.ts',
      'idempotencyLink.ts',
      'index.ts',
      'retryBudget.ts',
    ],
    packages: ['@trpc/client', '@trpc/server/observable'],
    exports: [
      'IDEMPOTENCY_HORIZON_HEADER',
      'IDEMPOTENCY_SHOULD_RETRY_HEADER',
      'IDEMPOTENCY_KEY_FIELD',
      'IDEMPOTENCY_REASONS',
      'getHorizonMs',
      'getIdempotencyReason',
      'getRetryAfterMs',
      'idempotencyLink',
      'isIdempotencyError',
      'isIdempotencyInProgress',
      'isIdempotencyKeyInvalid',
      'isIdempotencyKeyReused',
      'isIdempotencyOutcomeExpired',
      'isIdempotencyResponseNotStorable',
      'isMarkedNotRetryable',
      'isRetryableError',
      'retriedByIdempotencyLink',
    ],
  },
  {
    entry: './react-query',
    source: '../src/react-query/index.ts',
    reaches: 'only its peers, idb-keyval and client code',
    files: [
      '../client/errors.ts',
      '../client/retryBudget.ts',
      '../shared/idempotentInput.ts',
      '../shared/randomKey.ts',
      '../shared/reasons.ts',
      '../shared/retention.ts',
      'idbKeyval.ts',
      'idempotentMutationOptions.ts',
      'index.ts',
      'intentInput.ts',
      'operationState.ts',
      'pendingOperations.ts',
      'useIdempotentMutation.ts',
    ],
    packages: [
      '@tanstack/react-query',
      '@trpc/client',
      '@trpc/server/observable',
      'idb-keyval',
      'react',
    ],
    exports: [
      'DEFAULT_RETRIES',
      'FALLBACK_HORIZON_MS',
      'MissingIdempotencyKeyError',
      'OutcomeUnknownError',
      'PendingOperationsProvider',
      'createPendingOperations',
      'getIdempotencyKey',
      'idempotentMutationOptions',
      'idempotentRetry',
      'idempotentRetryDelay',
      'isAlreadyDone',
      'isOutcomeUnknown',
      'operationStateOf',
      'useIdempotentMutation',
    ],
  },
];

describe('the package’s entry points', () => {
  it('are the ones package.json exports', () => {
    expect(Object.keys(manifest.exports).sort()).toEqual(
      [
        ...Object.keys(entries),
        ...browserEntries.map(({ entry }) => entry),
        './package.json',
      ].sort(),
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

describe.each(browserEntries)(
  'the browser entry $entry',
  ({ source, reaches, files, packages, exports }) => {
    it(`is browser-safe: it reaches ${reaches}`, () => {
      expectBrowserSafe({ entry: join(import.meta.dirname, source), files, packages });
    });

    it('exports exactly its documented API', async () => {
      const module = (await import(source)) as Record<string, unknown>;
      expect(Object.keys(module).sort()).toEqual([...exports].sort());
      for (const name of exports) expect(readme, name).toContain(name);
    });
  },
);
