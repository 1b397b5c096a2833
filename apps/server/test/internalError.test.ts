import { newKey } from '@ledger/testkit';
import { DIALECTS, type Dialect, useFreshDatabases } from '@ledger/testkit/databases';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { sqlitePath } from '../src/database';
import { listeningLedgerApp } from './helpers/listeningApp';

const databases = useFreshDatabases();

/** Runs `statement` on the database from a connection of its own, as an operator would. */
async function runBehindTheServer(dialect: Dialect, databaseUrl: string, statement: string) {
  if (dialect === 'sqlite') {
    const client = new Database(sqlitePath(databaseUrl));
    try {
      client.exec(statement);
    } finally {
      client.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;

/**
 * A database failure under a running server: the caller gets a generic 500
 * with a request id, never the SQL, its parameters (scope, key, the fencing
 * owner token) or a stack; the log line with that request id has them.
 */
describe.each(DIALECTS)('internal errors over HTTP on %s', (dialect) => {
  it.each([
    [
      'the ledger table dropped',
      { sqlite: 'DROP TABLE accounts', postgres: 'DROP TABLE accounts CASCADE' },
      /accounts/,
      undefined,
    ],
    [
      'the records table dropped',
      { sqlite: 'DROP TABLE idempotency_records', postgres: 'DROP TABLE idempotency_records' },
      /idempotency_records/,
      'IDEMPOTENCY_STORE_UNAVAILABLE',
    ],
    [
      "the records table refusing the completed record's insert (its parameters hold the owner token)",
      {
        sqlite:
          "CREATE TRIGGER refuse_claims BEFORE INSERT ON idempotency_records BEGIN SELECT RAISE(ABORT, 'refuse_claims'); END",
        postgres:
          'ALTER TABLE idempotency_records ADD CONSTRAINT refuse_claims CHECK (false) NOT VALID',
      },
      /refuse_claims/,
      'IDEMPOTENCY_STORE_UNAVAILABLE',
    ],
  ])(
    '%s: a 500 that says only its request id; the log says the rest',
    async (_, sabotage, named, reason) => {
      const databaseUrl = await databases.create(dialect);
      await using server = await listeningLedgerApp({ databaseUrl });
      const idempotencyKey = newKey('leak');
      const input = { idempotencyKey, owner: 'Secret Owner', initialBalance: 7 };
      expect(
        (await server.post('accounts.open', { ...input, idempotencyKey: newKey() })).status,
      ).toBe(200);
      await runBehindTheServer(dialect, databaseUrl, sabotage[dialect]);

      const answer = await server.post('accounts.open', input, 'alice');
      expect(answer.status).toBe(500);
      const requestId = answer.body.error.data.requestId as string;
      expect(requestId).toMatch(UUID);
      expect(answer.body.error).toEqual({
        message: `internal error; request id ${requestId}`,
        code: -32603,
        data: {
          code: 'INTERNAL_SERVER_ERROR',
          httpStatus: 500,
          path: 'accounts.open',
          requestId,
          // The idempotency store's own failure keeps its reason (retry with the same key)
          // and, like every idempotency error, the server's horizon (30 days by default).
          ...(reason ? { reason, horizonMs: 30 * 24 * 60 * 60 * 1000 } : {}),
        },
      });

      // The log line with the same request id has what the answer leaves out.
      const failed = server.logs.filter((line) => line.msg === 'request failed');
      expect(failed).toHaveLength(1);
      const [line] = failed;
      expect(line).toMatchObject({ level: 'error', path: 'accounts.open', requestId });
      const details = [line!['message'], ...(line!['causes'] as string[]), line!['stack']].join(
        '\n',
      );
      expect(details).toMatch(named);
      expect(details).toMatch(/\bat \S+/); // a stack frame
      // The whole error is the one above; nothing of the failure hides elsewhere in the body.
      for (const secret of [
        'failed query',
        'no such table',
        'does not exist',
        'select',
        'insert',
        'params',
        idempotencyKey,
        'Secret Owner',
        'alice',
      ]) {
        expect(answer.text.toLowerCase()).not.toContain(secret.toLowerCase());
      }
      // Every bound parameter the log shows (the owner token among them) stays out of the answer;
      // the procedure's path is in it by design.
      const params = /params: (.*)/.exec(details)?.[1]?.split(',') ?? [];
      for (const param of params.filter(
        (value) => value.length >= 8 && value !== 'accounts.open',
      )) {
        expect(answer.text).not.toContain(param);
      }
    },
  );

  it('keeps the answers of deliberate errors as they are (4xx, idempotency errors)', async () => {
    await using server = await listeningLedgerApp({ databaseUrl: await databases.create(dialect) });
    const idempotencyKey = newKey();
    await server.post('accounts.open', { idempotencyKey, owner: 'A', initialBalance: 1 });
    const reused = await server.post('accounts.open', {
      idempotencyKey,
      owner: 'B',
      initialBalance: 1,
    });
    expect(reused.status).toBe(422);
    expect(reused.body.error.message).toMatch(
      /idempotency key was first used with different input/,
    );
    expect(reused.body.error.data.requestId).toBeUndefined();
    const missing = await server.post('transfers.create', {
      idempotencyKey: newKey(),
      fromAccountId: 'acc_0000000000000000',
      toAccountId: 'acc_0000000000000001',
      amount: 1,
    });
    expect(missing.status).toBe(404);
    expect(missing.body.error.message).toMatch(/acc_0000000000000000/);
  });
});
