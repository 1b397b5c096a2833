import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { endedByStore } from './ownCommit';

/** A transaction handle whose `execute`, like Drizzle's, is inherited from its class. */
class Handle {
  readonly sent: string[] = [];
  execute(query: { queryChunks: unknown[] }) {
    this.sent.push(JSON.stringify(query.queryChunks));
    return Promise.resolve('sent');
  }
}

describe('endedByStore', () => {
  it('answers Drizzle’s own COMMIT without sending it, and sends anything else', async () => {
    const tx = new Handle();
    endedByStore(tx);
    // What Drizzle's node-postgres and mysql2 sessions run when the callback returns.
    await expect(tx.execute(sql`commit`)).resolves.toBeUndefined();
    expect(tx.sent).toEqual([]);
    await expect(tx.execute(sql`select 1`)).resolves.toBe('sent');
    await expect(tx.execute(sql`commit and chain`)).resolves.toBe('sent');
    await expect(tx.execute(sql`${'commit'}`)).resolves.toBe('sent');
    expect(tx.sent).toHaveLength(3);
  });

  it('keeps a handle’s own execute for everything else', async () => {
    const sent: unknown[] = [];
    const tx = { execute: (query: unknown) => Promise.resolve(sent.push(query)) };
    endedByStore(tx);
    await tx.execute(sql`commit`);
    await tx.execute(sql`select 1`);
    expect(sent).toHaveLength(1);
  });

  it('leaves other handles of the same class alone', async () => {
    const ended = new Handle();
    const open = new Handle();
    endedByStore(ended);
    await open.execute(sql`commit`);
    expect(open.sent).toHaveLength(1);
  });
});
