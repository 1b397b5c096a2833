import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { expectBrowserSafe } from '../../test/helpers/browserSafety';
import * as client from './index';

const here = dirname(fileURLToPath(import.meta.url));

test('the client entry is browser-safe: it reaches only @trpc and shared code', () => {
  expectBrowserSafe({
    entry: join(here, 'index.ts'),
    files: [
      '../shared/idempotentInput.ts',
      '../shared/randomKey.ts',
      '../shared/reasons.ts',
      'errors.ts',
      'idempotencyLink.ts',
      'index.ts',
    ],
    packages: ['@trpc/client', '@trpc/server/observable'],
  });
});

test('the public API', () => {
  expect(Object.keys(client).sort()).toEqual([
    'IDEMPOTENCY_KEY_FIELD',
    'IDEMPOTENCY_REASONS',
    'getIdempotencyReason',
    'getRetryAfterMs',
    'idempotencyLink',
    'isIdempotencyError',
    'isIdempotencyInProgress',
    'isIdempotencyKeyInvalid',
    'isIdempotencyKeyReused',
    'isIdempotencyResponseNotStorable',
    'isRetryableError',
  ]);
});
