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

describe('a resubmission after success, after a reload (SPEC 7.8)', () => {
  /** Every key `page` sends to `path`, from now on, in order, with whether the server replayed it. */
  function sentKeys(page: Page, path: string) {
    const sent: Array<{ key: string; replayed: boolean }> = [];
    page.on('response', async (response) => {
      const request = response.request();
      if (!request.url().includes(`/trpc/${path}`)) return;
      const key = (JSON.parse(request.postData() ?? '{}') as { idempotencyKey?: string })
        .idempotencyKey;
      if (key) sent.push({ key, replayed: response.headers()['idempotent-replayed'] === 'true' });
    });
    return sent;
  }

  /** The accounts the page lists. */
  function shownAccounts(page: Page) {
    return page
      .getByTestId('account')
      .evaluateAll((elements) =>
        elements.map((element) => element.getAttribute('data-account-id')),
      );
  }

  it('open account Ada 100, reload, the same form sent again: one account, already done', async () => {
    await using server = await ledgerServer({ webRoot });
    const page = await context.newPage();
    await page.goto(server.origin);
    const id = await openAccount(page, 'Ada', 100);
    const key = await page.getByTestId('operation').first().getAttribute('data-key');

    await page.reload();
    await expect.poll(() => shownAccounts(page)).toEqual([id]);
    const sent = sentKeys(page, 'accounts.open');
    await page.getByTestId('open-owner').fill('Ada');
    await sleep(100);
    await page.getByTestId('open-balance').fill('100');
    await sleep(100);
    const row = await submitOperation(page, () => page.getByTestId('open-submit').click());

    expect(await row.getAttribute('data-key')).toBe(key);
    await waitForAttribute(row, 'data-state', 'succeeded');
    await waitForAttribute(row, 'data-already-done', 'true');
    await waitForAttribute(row, 'data-replayed', 'true');
    expect(await row.getAttribute('data-result-id')).toBe(id);
    expect(await row.textContent()).toContain('Already done');
    await expect
      .poll(() => page.getByTestId('open-status').textContent())
      .toContain('Already done');
    expect(sent).toEqual([{ key, replayed: true }]);
    expect((await server.events('accounts.open'))['executed']).toBe(1);
    await expect.poll(() => shownAccounts(page)).toEqual([id]);
  });

  it('a transfer, reload, the same transfer typed and sent again: it moved the money once, already done', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);
    await fillTransfer(page, from, to, 30);
    const first = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(first, 'data-state', 'succeeded');
    const key = await first.getAttribute('data-key');
    const transferId = await first.getAttribute('data-result-id');
    // Another transfer after it: the first is still remembered by its input.
    await page.getByTestId('transfer-amount').fill('5');
    await sleep(150);
    const second = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(second, 'data-state', 'succeeded');
    // Back to 30 in the same page: that transfer again, done before.
    await page.getByTestId('transfer-amount').fill('30');
    await sleep(150);
    await page.getByTestId('transfer-submit').click();
    await waitForAttribute(first, 'data-already-done', 'true');
    expect(await page.getByTestId('operation').count()).toBe(4);

    await page.reload();
    await expect.poll(() => shownBalance(page, from)).toBe('65');
    const sent = sentKeys(page, 'transfers.create');
    await fillTransfer(page, from, to, 30);
    await sleep(100);
    const row = await submitOperation(page, () => page.getByTestId('transfer-submit').click());

    expect(await row.getAttribute('data-key')).toBe(key);
    await waitForAttribute(row, 'data-state', 'succeeded');
    await waitForAttribute(row, 'data-already-done', 'true');
    await waitForAttribute(row, 'data-replayed', 'true');
    expect(await row.getAttribute('data-result-id')).toBe(transferId);
    expect(await row.textContent()).toContain('Already done');
    await expect
      .poll(() => page.getByTestId('transfer-status').textContent())
      .toContain('Already done');
    // A second click, 150 ms later: still that one.
    await sleep(150);
    await page.getByTestId('transfer-submit').click();
    await sleep(300);
    expect(sent.map((each) => each.key).every((each) => each === key)).toBe(true);
    expect(sent[0]).toEqual({ key, replayed: true });
    expect(await page.getByTestId('operation').count()).toBe(1);
    expect((await server.ledger.transfers(from)).map((each) => each.amount)).toEqual([30, 5]);
    expect((await server.events('transfers.create'))['executed']).toBe(2);
    await expect.poll(() => shownBalance(page, from)).toBe('65');
    await expect.poll(() => shownBalance(page, to)).toBe('35');
  });

  it('reload while the resubmission’s answer is on its way, the same transfer again: still the one transfer', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);
    await fillTransfer(page, from, to, 20);
    const first = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(first, 'data-state', 'succeeded');
    const key = (await first.getAttribute('data-key'))!;

    // From now on each answer of transfers.create takes 800 ms to come back.
    await page.route('**/trpc/transfers.create**', async (route) => {
      const response = await route.fetch();
      await sleep(800);
      await route.fulfill({ response }).catch(() => {}); // the page may have reloaded meanwhile
    });
    await page.reload();
    const sent = sentKeys(page, 'transfers.create');
    await fillTransfer(page, from, to, 20);
    const request = page.waitForRequest((each) => transferKeyOf(each) !== undefined);
    await page.getByTestId('transfer-submit').click();
    expect(transferKeyOf(await request)).toBe(key);
    await sleep(200);
    await page.reload();
    await fillTransfer(page, from, to, 20);
    await sleep(100);
    await page.getByTestId('transfer-submit').click();

    const row = operation(page, key);
    await waitForAttribute(row, 'data-state', 'succeeded');
    await waitForAttribute(row, 'data-already-done', 'true');
    await sleep(300);
    expect(await page.getByTestId('operation').count()).toBe(1);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.every((each) => each.key === key && each.replayed)).toBe(true);
    expect(await server.ledger.transfers(from)).toHaveLength(1);
    expect((await server.events('transfers.create'))['executed']).toBe(1);
    await expect.poll(() => shownBalance(page, from)).toBe('80');
  });

  it('after a reload, “New account” and “New transfer” with the same input: a second one, on purpose', async () => {
    await using server = await ledgerServer({ webRoot });
    const { page, from, to } = await tabWithAccounts(server);
    await fillTransfer(page, from, to, 10);
    const first = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(first, 'data-state', 'succeeded');
    const firstKey = await first.getAttribute('data-key');

    await page.reload();
    await expect.poll(() => shownBalance(page, from)).toBe('90');
    await page.getByTestId('transfer-new').click();
    await sleep(100);
    await fillTransfer(page, from, to, 10);
    await sleep(100);
    const second = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    await waitForAttribute(second, 'data-state', 'succeeded');
    const secondKey = await second.getAttribute('data-key');
    expect(secondKey).not.toBe(firstKey);
    expect(await second.getAttribute('data-already-done')).toBe('false');
    expect(await second.getAttribute('data-replayed')).toBe('false');

    await page.getByTestId('open-new').click();
    await sleep(100);
    const ada = await openAccount(page, 'Ada', 100);
    expect(ada).not.toBe(from);

    expect((await server.ledger.transfers(from)).map((each) => each.amount)).toEqual([10, 10]);
    expect((await server.events('transfers.create'))['executed']).toBe(2);
    expect((await server.events('accounts.open'))['executed']).toBe(3);
    await expect.poll(() => shownBalance(page, from)).toBe('80');

    // And after the next reload, the same transfer again is the second one, already done.
    await page.reload();
    await fillTransfer(page, from, to, 10);
    const again = await submitOperation(page, () => page.getByTestId('transfer-submit').click());
    expect(await again.getAttribute('data-key')).toBe(secondKey);
    await waitForAttribute(again, 'data-already-done', 'true');
    expect(await server.ledger.transfers(from)).toHaveLength(2);
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
