import type { FaultKind } from '@ledger/testkit';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { idempotentPaths } from 'trpc-idempotency';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { ledgerProcedures } from '../src/ledger';
import {
  fillTransfer,
  launchChromium,
  ledgerServer,
  openAccount,
  operation,
  shownBalance,
  submitOperation,
  waitForAttribute,
} from './browser';

const webRoot = inject('webRoot');

let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
beforeEach(async () => {
  context = await browser.newContext();
});
afterEach(async () => {
  await context.close();
});

/** A new tab on `server`'s web app, where Ada opened an account of `adaBalance` and Bob an empty one. */
async function tabWithAccounts(server: { origin: string }, adaBalance = 100) {
  const page = await context.newPage();
  await page.goto(server.origin);
  const from = await openAccount(page, 'Ada', adaBalance);
  const to = await openAccount(page, 'Bob', 0);
  return { page, from, to };
}

/** Submits the filled transfer form; resolves once its request is on its way, with its operation. */
async function submitTransfer(page: Page) {
  const sent = page.waitForRequest((request) => request.url().includes('/trpc/transfers.create'));
  const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
  await sent;
  return { row, key: (await row.getAttribute('data-key'))! };
}

/**
 * Waits until `page` shows the operation `key` succeeded, and expects it to be
 * the one transfer from `from` the server executed, the one the page names.
 */
async function expectTheOneTransfer(opts: {
  page: Page;
  key: string;
  server: Awaited<ReturnType<typeof ledgerServer>>;
  from: string;
}) {
  const shown = operation(opts.page, opts.key);
  await waitForAttribute(shown, 'data-state', 'succeeded');
  const transfers = await opts.server.ledger.transfers(opts.from);
  expect(transfers).toHaveLength(1);
  expect(await shown.getAttribute('data-result-id')).toBe(transfers[0]?.id);
  expect((await opts.server.events('transfers.create'))['executed']).toBe(1);
}

describe('the web app, in Chromium, against the real ledger server', () => {
  it('double-click on submit: one transfer; the same form again is the same one, “New transfer” a new one', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);

    await fillTransfer(page, from, to, 25);
    const first = await submitOperation(page, () => page.getByTestId('transfer-submit').dblclick());
    await waitForAttribute(first, 'data-state', 'succeeded');
    const firstKey = await first.getAttribute('data-key');

    expect(await page.getByTestId('operation').count()).toBe(3);
    expect(await server.ledger.transfers(from)).toHaveLength(1);
    expect(await server.ledger.balance(from)).toBe(75);
    expect(await server.ledger.balance(to)).toBe(25);
    await expect.poll(() => shownBalance(page, from)).toBe('75');
    await expect.poll(() => shownBalance(page, to)).toBe('25');
    // The server saw the double submit at most as one execution.
    expect((await server.events('transfers.create'))['executed']).toBe(1);

    // The outcome is known: the same form submitted again is the same operation, replayed.
    await page.getByTestId('transfer-submit').click();
    await waitForAttribute(first, 'data-already-done', 'true');
    expect(await first.textContent()).toContain('Already done');
    expect(await page.getByTestId('operation').count()).toBe(3);
    expect(await server.ledger.transfers(from)).toHaveLength(1);

    // A new transfer on purpose: a new key, a second transfer.
    await page.getByTestId('transfer-new').click();
    const second = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(second, 'data-state', 'succeeded');
    expect(await page.getByTestId('operation').count()).toBe(4);
    expect(await second.getAttribute('data-key')).not.toBe(firstKey);
    expect(await server.ledger.transfers(from)).toHaveLength(2);
    expect(await server.ledger.balance(to)).toBe(50);
  });

  it('the form changed while its transfer is pending: a new operation with a new key', async () => {
    await using server = await ledgerServer({ webRoot, transferDelayMs: 800 });
    const { page, from, to } = await tabWithAccounts(server);

    await fillTransfer(page, from, to, 10);
    const first = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await page.getByTestId('transfer-amount').fill('11');
    const second = await submitOperation(page, () => page.getByTestId('transfer-submit').click());

    expect(await second.getAttribute('data-key')).not.toBe(await first.getAttribute('data-key'));
    await waitForAttribute(first, 'data-state', 'succeeded');
    await waitForAttribute(second, 'data-state', 'succeeded');
    expect((await server.ledger.transfers(from)).map((t) => t.amount).sort()).toEqual([10, 11]);
    expect(await server.ledger.balance(to)).toBe(21);
  });

  it('responses lost after the server answered: retried with the same key, one transfer, shown as replayed', async () => {
    const plan: Array<FaultKind | undefined> = ['lostResponse', 'lostResponse'];
    await using server = await ledgerServer({
      webRoot,
      web: { flaky: { decide: (n) => plan[n] } },
    });
    const { page, from, to } = await tabWithAccounts(server);

    await page.getByTestId('flaky').check({ force: true });
    await fillTransfer(page, from, to, 30);
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(row, 'data-state', 'succeeded');

    // Who resent it (the link, or Chromium itself, which silently resends a POST whose
    // reused connection dropped) does not matter: the key is in the body, so every copy carries it.
    expect(await row.getAttribute('data-replayed')).toBe('true');
    expect(await row.textContent()).toContain('Succeeded · replayed');
    expect(await row.getAttribute('data-result-id')).toMatch(/^tr_/);
    expect(await server.app.web.flakyStats()).toMatchObject({
      faults: { lostResponse: 2, reset: 0, badGateway: 0 },
    });
    const transfers = await server.ledger.transfers(from);
    expect(transfers).toHaveLength(1);
    expect(transfers[0]?.id).toBe(await row.getAttribute('data-result-id'));
    expect(await server.ledger.balance(from)).toBe(70);
    expect(await server.ledger.balance(to)).toBe(30);
    expect(await server.events('transfers.create')).toMatchObject({ executed: 1, replayed: 2 });
    await expect.poll(() => shownBalance(page, to)).toBe('30');
  });

  it('page reload while a transfer is in flight: it resumes with its key, one transfer, shown succeeded', async () => {
    await using server = await ledgerServer({ webRoot, transferDelayMs: 1500 });
    const { page, from, to } = await tabWithAccounts(server);

    await fillTransfer(page, from, to, 40);
    const { row: inFlight, key } = await submitTransfer(page);
    expect(await inFlight.getAttribute('data-state')).toBe('pending');
    // The server pauses 1500 ms inside the transfer, between its checks and its commit:
    // the page goes while the request is there.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await page.reload();

    await expectTheOneTransfer({ page, key, server, from });
    expect(await server.ledger.balance(from)).toBe(60);
    expect(await server.ledger.balance(to)).toBe(40);
    await expect.poll(() => shownBalance(page, to)).toBe('40');
    // Nothing left pending: a second reload resumes nothing.
    await page.reload();
    await expect.poll(() => shownBalance(page, from)).toBe('60');
    expect(await page.getByTestId('operation').count()).toBe(0);
    expect(await server.ledger.transfers(from)).toHaveLength(1);
  });

  it('two tabs: a tab never runs an operation another tab is running; a closed tab’s operation resumes with its key', async () => {
    await using server = await ledgerServer({ webRoot, transferDelayMs: 3000 });
    const { page: first, from, to } = await tabWithAccounts(server);

    await fillTransfer(first, from, to, 20);
    const { key } = await submitTransfer(first);

    // A second tab starts while the first runs the transfer: it leaves it to the first.
    const second = await context.newPage();
    await second.goto(server.origin);
    await expect.poll(() => shownBalance(second, from)).toBe('100');
    expect(await second.getByTestId('operation').count()).toBe(0);

    // The first tab closes mid-flight; the next start (here: the second tab reloading) resumes it.
    await first.close();
    await second.reload();
    await expectTheOneTransfer({ page: second, key, server, from });
    await expect.poll(() => shownBalance(second, to)).toBe('20');
  });

  it('offline: the submitted transfer waits, with its key, and lands once back online', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);

    await context.setOffline(true);
    await fillTransfer(page, from, to, 15);
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await expect.poll(() => row.textContent()).toContain('Waiting for network');
    expect(await row.getAttribute('data-state')).toBe('pending');
    // A second click while queued is the same operation.
    await page.getByTestId('transfer-submit').click();
    expect(await page.getByTestId('operation').count()).toBe(3);
    expect(await server.ledger.transfers(from)).toHaveLength(0);

    await context.setOffline(false);
    await waitForAttribute(row, 'data-state', 'succeeded');
    expect(await server.ledger.transfers(from)).toHaveLength(1);
    expect(await server.ledger.balance(from)).toBe(85);
    expect(await server.ledger.balance(to)).toBe(15);
    expect((await server.events('transfers.create'))['executed']).toBe(1);
    await expect.poll(() => shownBalance(page, to)).toBe('15');
  });

  it('a failure the server decided is shown with its reason, and not retried', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server, 10);

    await fillTransfer(page, from, to, 500);
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(row, 'data-state', 'failed');

    expect(await row.textContent()).toContain('PRECONDITION_FAILED');
    expect(await row.textContent()).toMatch(/insufficient funds/i);
    expect(await row.getAttribute('data-attempts')).toBe('1');
    expect(await server.ledger.transfers(from)).toHaveLength(0);
  });

  it('the client’s idempotent procedures are the server’s', async () => {
    await using server = await ledgerServer({ webRoot });
    expect(await idempotentPaths(server.app.router)).toEqual(Object.keys(ledgerProcedures).sort());
  });
});
