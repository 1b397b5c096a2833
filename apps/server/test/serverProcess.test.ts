import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLedger, startLedgerServer, tempDir } from '@ledger/testkit';
import { DIALECTS, useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import { balanceOf, read, transferInFlight } from './helpers/rawHttp';

const databases = useFreshDatabases();

/** The server process around its API: keys in flight across processes, start-up failures, its knobs. */
describe.each([...DIALECTS, 'mysql'] as const)('a key in flight on %s', (dialect) => {
  it('409 IDEMPOTENCY_IN_PROGRESS with retryAfterMs and Retry-After after the wait bound, then replays', async () => {
    // The transfer holds between its checks and its commit; a duplicate joins it
    // and waits at most 200 ms.
    await using server = await startLedgerServer({
      databaseUrl: await databases.create(dialect),
      env: {
        LEDGER_TRANSFER_DELAY_MS: '1000',
        IDEMPOTENCY_WAIT_MS: '200',
        IDEMPOTENCY_RETRY_AFTER_MS: '1500',
      },
    });
    const { a, input, running } = await transferInFlight(server);
    const conflict = await read(await server.mutate('transfers.create', input));
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get('retry-after')).toBe('2');
    expect(conflict.body.error.data).toMatchObject({
      code: 'CONFLICT',
      httpStatus: 409,
      reason: 'IDEMPOTENCY_IN_PROGRESS',
      retryAfterMs: 1500,
    });
    const original = await read(await running);
    expect(original.status).toBe(200);
    const replay = await read(await server.mutate('transfers.create', input));
    expect(replay.text).toBe(original.text);
    expect(await balanceOf(server, a)).toBe(60);
  });

  it('settles a duplicate in another server process at its commit: one transfer, one answer', async () => {
    await using slow = await startLedgerServer({
      databaseUrl: await databases.create(dialect),
      env: { LEDGER_TRANSFER_DELAY_MS: '1000' },
    });
    await using other = await startLedgerServer({ databaseUrl: slow.databaseUrl });
    const { a, input, running } = await transferInFlight(slow, other);
    // Nothing is written while the first prepares: the duplicate elsewhere executes and
    // commits; the first finds its record at its own commit and replays it.
    const duplicate = await read(await other.mutate('transfers.create', input));
    const original = await read(await running);
    expect([duplicate.status, original.status]).toEqual([200, 200]);
    expect(original.text).toBe(duplicate.text);
    expect(await balanceOf(other, a)).toBe(60);
    const ledger = await readLedger(other.databaseUrl);
    expect(ledger.transfers).toHaveLength(1);
  });
});

describe.each(DIALECTS)('starting the server on %s', (dialect) => {
  it('a database it cannot open stops the server with a message naming it', async () => {
    if (dialect === 'postgres') {
      await expect(
        startLedgerServer({ databaseUrl: 'postgres://ledger:s3cret@127.0.0.1:1/ledger' }),
      ).rejects.toThrow(
        /cannot start: cannot open the Postgres database postgres:\/\/ledger@127\.0\.0\.1:1\/ledger: .*ECONNREFUSED/,
      );
      return;
    }
    // A regular file where the database's folder should be.
    using dir = tempDir('ledger-unopenable');
    writeFileSync(join(dir.path, 'file'), '');
    const file = join(dir.path, 'file', 'ledger.db');
    await expect(startLedgerServer({ databaseUrl: `file:${file}` })).rejects.toThrow(
      `cannot start: cannot open the SQLite database ${file}: EEXIST`,
    );
  });
});

describe('the idempotency and batch knobs of the server process', () => {
  it('TRPC_MAX_BATCH_SIZE sets the largest batch', async () => {
    await using server = await startLedgerServer({
      databaseUrl: await databases.create('sqlite'),
      env: { TRPC_MAX_BATCH_SIZE: '3' },
    });
    const health = (calls: number) =>
      fetch(`${server.url}/${Array(calls).fill('health').join(',')}?batch=1&input={}`);
    expect((await health(3)).status).toBe(200);
    const refused = await read(await health(4));
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toBe('Batch call exceeds maximum size');
  });
});
