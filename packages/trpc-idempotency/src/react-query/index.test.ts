import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { expectBrowserSafe } from '../../test/helpers/browserSafety';
import * as reactQuery from './index';

const here = dirname(fileURLToPath(import.meta.url));

test('the react-query entry is browser-safe: it reaches only its peers, idb-keyval and client code', () => {
  expectBrowserSafe({
    entry: join(here, 'index.ts'),
    files: [
      '../client/errors.ts',
      '../shared/idempotentInput.ts',
      '../shared/randomKey.ts',
      '../shared/reasons.ts',
      'idempotentMutationOptions.ts',
      'index.ts',
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
  });
});

test('the public API', () => {
  expect(Object.keys(reactQuery).sort()).toEqual([
    'DEFAULT_RETRIES',
    'MissingIdempotencyKeyError',
    'PendingOperationsProvider',
    'createPendingOperations',
    'getIdempotencyKey',
    'idempotentMutationOptions',
    'idempotentRetry',
    'idempotentRetryDelay',
    'useIdempotentMutation',
  ]);
});
