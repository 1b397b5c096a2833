/**
 * Issue 20's table, in Chromium against the real ledger server: ordinary
 * human behaviour — a second click, a reload, a network that fails, a day
 * away — makes no duplicate, and the page says honestly what became of each
 * operation (SPEC 7.8–7.10, section 10).
 */
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
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
const DAY_MS = 24 * 60 * 60 * 1000;

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

type Server = Awaited<ReturnType<typeof ledgerServer>>;

/** A new tab on `server`'s web app, where Ada opened an account of 100 and Bob an empty one. */
async function tabWithAccounts(server: Server) {
  const page = await context.newPage();
  await page.goto(server.origin);
  const from = await openAccount(page, 'Ada', 100);
  const to = await openAccount(page, 'Bob', 0);
  return { page, from, to };
}

/** The key in a request to `transfers.create`, if it is one. */
function transferKeyOf(request: Request): string | undefined {
  if (!request.url().includes('/trpc/transfers.create')) return undefined;
  const body = request.postData();
  return body ? (JSON.parse(body) as { idempotencyKey?: string }).idempotencyKey : undefined;
}

/** Every key `page` sends to `transfers.create`, from now on, in order. */
function sentTransferKeys(page: Page) {
  const keys: string[] = [];
  page.on('request', (request) => {
    const key = transferKeyOf(request);
    if (key) keys.push(key);
  });
  return keys;
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('no duplicate from ordinary human behaviour', () => {
  it('two clicks 120 ms apart (the server answers in a few ms): one transfer, shown as already done', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);
    const sent = sentTransferKeys(page);

    await fillTransfer(page, from, to, 25);
    // Two real clicks with a human's delay between them, not Playwright's dblclick (ms apart).
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await sleep(120);
    await page.getByTestId('transfer-submit').click();
    await waitForAttribute(row, 'data-state', 'succeeded');
    await expect.poll(() => sent.length).toBeGreaterThanOrEqual(1);
    await sleep(300);

    expect(new Set(sent).size).toBe(1);
    expect(await page.getByTestId('operation').count()).toBe(3);
    expect(await server.ledger.transfers(from)).toHaveLength(1);
    expect(await server.ledger.balance(to)).toBe(25);
    expect((await server.events('transfers.create'))['executed']).toBe(1);
    // The second click either joined the first while it ran or was replayed after it.
    if (sent.length === 2) {
      await waitForAttribute(row, 'data-already-done', 'true');
      expect(await row.textContent()).toContain('Already done');
    }
    // Once more, well after the first settled: the same operation, already done.
    await page.getByTestId('transfer-submit').click();
    await waitForAttribute(row, 'data-already-done', 'true');
    await expect
      .poll(() => page.getByTestId('transfer-status').textContent())
      .toContain('Already done');
    expect(await server.ledger.transfers(from)).toHaveLength(1);
    await expect.poll(() => shownBalance(page, from)).toBe('75');
  });

  it('reload while a transfer is in flight, then the same transfer typed and sent again: it adopts the resumed one', async () => {
    await using server = await ledgerServer({ webRoot, transferDelayMs: 1500 });
    const { page, from, to } = await tabWithAccounts(server);

    await fillTransfer(page, from, to, 40);
    const sentFirst = page.waitForRequest((request) => transferKeyOf(request) !== undefined);
    const inFlight = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    const key = await inFlight.getAttribute('data-key');
    await sentFirst;
    await sleep(300);
    await page.reload();

    // The user does not see it yet and types the same transfer again, at once.
    const sent = sentTransferKeys(page);
    await fillTransfer(page, from, to, 40);
    await page.getByTestId('transfer-submit').click();

    const row = operation(page, key!);
    await waitForAttribute(row, 'data-state', 'succeeded');
    await expect.poll(() => sent.length).toBeGreaterThan(0);
    expect(new Set(sent)).toEqual(new Set([key]));
    expect(await page.getByTestId('operation').count()).toBe(1);
    const transfers = await server.ledger.transfers(from);
    expect(transfers).toHaveLength(1);
    expect(await row.getAttribute('data-result-id')).toBe(transfers[0]?.id);
    expect((await server.events('transfers.create'))['executed']).toBe(1);
    await expect.poll(() => shownBalance(page, from)).toBe('60');
  });

  it('every request fails on the network: waiting, never failed; discarded it is unknown and never sent again, beside its correction', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);
    const sent = sentTransferKeys(page);

    await page.route('**/trpc/transfers.create**', (route) => route.abort('connectionreset'));
    await fillTransfer(page, from, to, 30);
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    const key = (await row.getAttribute('data-key'))!;
    await expect
      .poll(() => row.textContent(), { timeout: 10_000 })
      .toContain('Waiting for network');
    expect(await row.getAttribute('data-state')).toBe('retrying');
    expect(await row.textContent()).toContain(key.slice(0, 8));
    // It is tried again with backoff, with its key, and never called failed.
    await expect.poll(() => sent.length, { timeout: 10_000 }).toBeGreaterThan(3);
    expect(new Set(sent)).toEqual(new Set([key]));
    expect(await row.getAttribute('data-state')).not.toBe('failed');

    // The user gives it up explicitly: its outcome is unknown, and it is never sent again.
    await page.getByTestId('operation-discard').click();
    await waitForAttribute(row, 'data-state', 'unknown');
    expect(await row.textContent()).toContain('Outcome unknown');

    // The network is back; the user corrects the amount and sends again: a new operation.
    await page.unroute('**/trpc/transfers.create**');
    await page.getByTestId('transfer-amount').fill('20');
    const correction = await submitOperation(page, () =>
      page.getByTestId('transfer-submit').click(),
    );
    await waitForAttribute(correction, 'data-state', 'succeeded');
    expect(await correction.getAttribute('data-key')).not.toBe(key);

    // Later reloads send nothing of the discarded one.
    const sentAfter = sentTransferKeys(page);
    await page.reload();
    await expect.poll(() => shownBalance(page, from)).toBe('80');
    await page.reload();
    await expect.poll(() => shownBalance(page, from)).toBe('80');
    await sleep(500);
    expect(sentAfter).toEqual([]);
    const transfers = await server.ledger.transfers(from);
    expect(transfers.map((transfer) => transfer.amount)).toEqual([20]);
  });

  it('the network fails, then comes back: the waiting transfer lands once, with its key', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);
    const sent = sentTransferKeys(page);

    await page.route('**/trpc/transfers.create**', (route) => route.abort('connectionreset'));
    await fillTransfer(page, from, to, 35);
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await expect
      .poll(() => row.textContent(), { timeout: 10_000 })
      .toContain('Waiting for network');
    await page.unroute('**/trpc/transfers.create**');

    await waitForAttribute(row, 'data-state', 'succeeded');
    expect(new Set(sent)).toEqual(new Set([await row.getAttribute('data-key')]));
    expect(await server.ledger.transfers(from)).toHaveLength(1);
    expect((await server.events('transfers.create'))['executed']).toBe(1);
    await expect.poll(() => shownBalance(page, to)).toBe('35');
  });

  it('a failure the server decided is never sent again after a reload', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);

    await fillTransfer(page, from, to, 500);
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(row, 'data-state', 'failed');
    const before = await server.events('transfers.create');

    const sent = sentTransferKeys(page);
    await page.reload();
    await expect.poll(() => shownBalance(page, from)).toBe('100');
    await sleep(500);
    expect(sent).toEqual([]);
    expect(await server.events('transfers.create')).toEqual(before);
  });
});

describe('a day away (SPEC 7.10)', () => {
  /** Sends a transfer of 40 and closes the tab while the server runs it: its answer is lost. */
  async function closeMidFlight(server: Server) {
    const { page, from, to } = await tabWithAccounts(server);
    await fillTransfer(page, from, to, 40);
    const sent = page.waitForRequest((request) => transferKeyOf(request) !== undefined);
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    const key = (await row.getAttribute('data-key'))!;
    await sent;
    await sleep(200);
    await page.close();
    await expect.poll(() => server.ledger.transfers(from), { timeout: 10_000 }).toHaveLength(1);
    return { from, to, key };
  }

  it('back after the TTL, within the horizon: resent, the server does not run it again, shown done without its result', async () => {
    await using server = await ledgerServer({
      webRoot,
      transferDelayMs: 800,
      leaseMs: 1000,
      ttlMs: 2000,
    });
    const { from, key } = await closeMidFlight(server);
    await sleep(2500); // its response expired; its tombstone stays (SPEC 3.7)

    const page = await context.newPage();
    const sent = sentTransferKeys(page);
    await page.goto(server.origin);
    const row = operation(page, key);
    await waitForAttribute(row, 'data-state', 'succeeded');
    expect(sent).toEqual([key]);
    expect(await row.getAttribute('data-result-id')).toBeNull();
    expect(await row.textContent()).toContain('no longer keeps its result');
    expect(await server.ledger.transfers(from)).toHaveLength(1);
    expect(await server.ledger.balance(from)).toBe(60);
  });

  it('back after the horizon: never resent, shown unknown', async () => {
    await using server = await ledgerServer({ webRoot, transferDelayMs: 800 });
    const { from, key } = await closeMidFlight(server);

    // Forty days later (past the default horizon of 30 days, and the 24 h fallback).
    const page = await context.newPage();
    await page.clock.install({ time: Date.now() + 40 * DAY_MS });
    const sent = sentTransferKeys(page);
    await page.goto(server.origin);
    const row = operation(page, key);
    await waitForAttribute(row, 'data-state', 'unknown');
    expect(await row.textContent()).toContain('Older than the server keeps keys');
    await sleep(500);
    expect(sent).toEqual([]);
    expect(await server.ledger.transfers(from)).toHaveLength(1);
    expect(await server.ledger.balance(from)).toBe(60);
  });
});
