import { newKey } from '@ledger/testkit';
import { DIALECTS, useFreshDatabases } from '@ledger/testkit/databases';
import { describe, expect, it } from 'vitest';
import { MAX_USER_ID_LENGTH } from '../src/identity';
import { listeningLedgerApp } from './helpers/listeningApp';

const databases = useFreshDatabases();
const RULE =
  /an identity is 1–128 characters of well-formed UTF-8, without whitespace at either end, control or format characters/;
const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))),
  );

/**
 * `x-user-id` is the idempotency scope: two distinct header values must never
 * be one principal, so ill-formed identities are refused (401, the rule named),
 * never normalised into someone else's.
 */
describe.each(DIALECTS)('x-user-id over HTTP on %s', (dialect) => {
  it('refuses "\\xa0alice\\xa0" instead of answering with alice\'s stored response', async () => {
    await using server = await listeningLedgerApp({ databaseUrl: await databases.create(dialect) });
    const idempotencyKey = newKey();
    const input = { idempotencyKey, owner: 'Alice', initialBalance: 100 };
    const alice = await server.post('accounts.open', input, 'alice');
    expect(alice.status).toBe(200);
    // The same key under look-alikes of alice: Latin-1 and UTF-8 no-break spaces around her name.
    for (const user of [
      bytes([0xa0], 'alice', [0xa0]),
      bytes('\u00a0alice\u00a0'),
      bytes('alice\u3000'),
      bytes('\ufeffalice'),
      bytes('ali\u200bce'),
    ]) {
      const answer = await server.post('accounts.open', input, user);
      expect(answer.status, user.toString('hex')).toBe(401);
      expect(answer.body.error.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401 });
      expect(answer.body.error.message).toMatch(RULE);
      expect(answer.text).not.toContain(alice.body.result.data.id);
    }
  });

  it.each([
    ['empty', bytes(''), /x-user-id is empty/],
    ['a tab inside', bytes('ali\tce'), /control or format character U\+0009/],
    ['a C1 control character', bytes('ali\u0085ce'), /control or format character U\+0085/],
    ['a right-to-left override', bytes('ecila\u202e'), /control or format character U\+202E/],
    ['3 000 characters', bytes('u'.repeat(3000)), /x-user-id is 3000 characters long/],
    [
      '129 characters',
      bytes('é'.repeat(MAX_USER_ID_LENGTH + 1)),
      /x-user-id is 129 characters long/,
    ],
    [
      'a lone surrogate (its UTF-8 form ED A0 80)',
      bytes('a', [0xed, 0xa0, 0x80], 'b'),
      /not well-formed UTF-8/,
    ],
    ['Latin-1, not UTF-8 (Jos\\xe9)', bytes('Jos', [0xe9]), /not well-formed UTF-8/],
    ['an overlong UTF-8 form of "/"', bytes('a', [0xc0, 0xaf]), /not well-formed UTF-8/],
    ['ending in a space', bytes('alice\u2009'), /ends with whitespace/],
    ['two headers', ['alice', 'bob'], /was sent 2 times; send it once/],
  ])('refuses an identity %s with 401 naming the rule; nothing stored', async (_, user, reason) => {
    await using server = await listeningLedgerApp({ databaseUrl: await databases.create(dialect) });
    const answer = await server.post(
      'accounts.open',
      { idempotencyKey: newKey(), owner: 'X', initialBalance: 1 },
      user,
    );
    expect(answer.status).toBe(401);
    expect(answer.body.error.data).toMatchObject({ code: 'UNAUTHORIZED' });
    expect(answer.body.error.message).toMatch(reason);
    expect(answer.body.error.message).toMatch(RULE);
    expect(await server.app.database.kind).toBe(dialect);
    expect(server.logs.filter((line) => line.level === 'error')).toEqual([]);
  });

  it('accepts any other identity as it is: UTF-8 names, inner spaces, 128 characters, each its own scope', async () => {
    await using server = await listeningLedgerApp({ databaseUrl: await databases.create(dialect) });
    const idempotencyKey = newKey();
    const opened = new Set<string>();
    for (const user of ['José', 'Jose\u0301', 'alice smith', 'alice', '名前', 'é'.repeat(128)]) {
      const answer = await server.post(
        'accounts.open',
        { idempotencyKey, owner: 'Owner', initialBalance: 1 },
        user,
      );
      expect(answer.status, user).toBe(200);
      opened.add(answer.body.result.data.id);
    }
    // One key, six principals (NFC and NFD José too): six accounts, none replayed to another.
    expect(opened.size).toBe(6);
  });

  it('leaves public queries alone whatever x-user-id says', async () => {
    await using server = await listeningLedgerApp({ databaseUrl: await databases.create(dialect) });
    const response = await fetch(`${server.url}/health`, { headers: { 'x-user-id': '\xa0x' } });
    expect(response.status).toBe(200);
  });
});
