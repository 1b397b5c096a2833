import { type LedgerServerProcess, newKey, waitForInFlight } from '@ledger/testkit';
import { expect } from 'vitest';
import { transferInput } from './ledgerCalls';

/** A response read once: status, raw text (for byte comparisons) and parsed body. */
export async function read(response: Response) {
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    text,
    // biome-ignore lint/suspicious/noExplicitAny: JSON from the wire, checked by the assertions
    body: JSON.parse(text) as any,
  };
}

/** Opens an account over HTTP (alice, a fresh key); resolves with its id. */
export async function openAccount(
  server: LedgerServerProcess,
  owner: string,
  initialBalance: number,
) {
  const { status, body } = await read(
    await server.mutate('accounts.open', { idempotencyKey: newKey(), owner, initialBalance }),
  );
  expect(status).toBe(200);
  return body.result.data.id as string;
}

/**
 * Opens A (100) and B (0) through `via`, then sends a transfer of 40 from A
 * to B to `server` and resolves once it runs there (not yet answered).
 */
export async function transferInFlight(server: LedgerServerProcess, via = server) {
  const a = await openAccount(via, 'A', 100);
  const b = await openAccount(via, 'B', 0);
  const input = transferInput(a, b, 40);
  const running = server.mutate('transfers.create', input);
  await waitForInFlight(server, 1);
  return { a, input, running };
}

/** An account's balance, read over HTTP. */
export async function balanceOf(server: LedgerServerProcess, id: string) {
  return (await read(await server.query('accounts.get', { id }))).body.result.data
    .balance as number;
}
