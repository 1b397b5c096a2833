import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { describeAttemptFailure } from '../src/explain';
import { createLedgerClient } from '../src/ledgerClient';

describe('createLedgerClient', () => {
  it('abandons a hung attempt after attemptTimeoutMs and retries it with the same key', async () => {
    const held: ServerResponse[] = [];
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8').on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => bodies.push(body));
      held.push(res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const failures: string[] = [];
      const client = createLedgerClient({
        url: `http://127.0.0.1:${port}/trpc`,
        user: 'alice',
        batch: false,
        attemptTimeoutMs: 100,
        retry: { maxAttempts: 2, baseDelayMs: 1 },
        onRetry: ({ error }) => failures.push(describeAttemptFailure(error)),
      });
      await expect(
        client.accounts.open.mutate({ owner: 'Ann', initialBalance: 1 }),
      ).rejects.toThrow();
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatch(/aborted due to timeout/);
      expect(bodies).toHaveLength(2);
      const keys = bodies.map(
        (body) => (JSON.parse(body) as { idempotencyKey: string }).idempotencyKey,
      );
      expect(keys[1]).toBe(keys[0]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
