import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLedgerApp, type LedgerAppOptions } from '@ledger/server';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { expect } from 'vitest';

/** Debian's Chromium (`apt-get install chromium`); `.ci/run` installs it. */
export const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

/** Headless, and quiet: no sandbox (root in CI), no calls home on a closed network. */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A headless Chromium; each test opens its own context (a fresh profile: storage, IndexedDB). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
}

/** The ledger server in this process, on a fresh SQLite file, serving `webRoot` at `/`. */
export async function ledgerServer(opts: LedgerAppOptions & { webRoot: string }) {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-browser-'));
  const app = createLedgerApp({
    ...opts,
    databaseUrl: `file:${join(dir, 'ledger.db')}`,
    web: { ...opts.web, root: opts.webRoot },
  });
  const { url } = await app.listen({ port: 0, host: '127.0.0.1' });
  const origin = new URL(url).origin;

  async function query<T>(path: string, input: unknown): Promise<T> {
    const response = await fetch(
      `${url}/${path}?input=${encodeURIComponent(JSON.stringify(input))}`,
    );
    const body = (await response.json()) as { result?: { data: T }; error?: unknown };
    if (!body.result) throw new Error(`${path} failed: ${JSON.stringify(body.error)}`);
    return body.result.data;
  }

  return {
    app,
    origin,
    /** The ledger as any HTTP client reads it. */
    ledger: {
      balance: async (id: string) =>
        (await query<{ balance: number }>('accounts.get', { id })).balance,
      transfers: (accountId: string) =>
        query<Array<{ id: string; amount: number; fromAccountId: string; toAccountId: string }>>(
          'transfers.list',
          { accountId },
        ),
    },
    /** Idempotency events so far, by type, for one procedure. */
    async events(path: string) {
      const text = await app.metrics.render();
      const counts: Record<string, number> = {};
      for (const match of text.matchAll(/^idempotency_events_total\{([^}]*)\} (\d+)$/gm)) {
        const labels = Object.fromEntries(
          [...match[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((label) => [label[1], label[2]]),
        );
        if (labels['idempotency_path'] === path) {
          counts[labels['idempotency_outcome']!] = Number(match[2]);
        }
      }
      return counts;
    },
    async [Symbol.asyncDispose]() {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The operation row of the app with this key. */
export function operation(page: Page, key: string): Locator {
  return page.locator(`[data-testid="operation"][data-key="${key}"]`);
}

/**
 * Does `act` (a submit), waits for the operation row it adds, and returns a
 * locator for that row by its key (the list is newest first, and rows move).
 */
export async function submitOperation(page: Page, act: () => Promise<void>): Promise<Locator> {
  const rows = page.getByTestId('operation');
  const before = await rows.count();
  await act();
  await expect.poll(() => rows.count()).toBe(before + 1);
  const key = await rows.first().getAttribute('data-key');
  expect(key).toBeTruthy();
  return operation(page, key!);
}

/** Waits until `locator`'s attribute `name` is `value`. */
export async function waitForAttribute(
  locator: Locator,
  name: string,
  value: string,
  timeout = 20_000,
) {
  await expect.poll(() => locator.getAttribute(name), { timeout, interval: 50 }).toBe(value);
}

/** Opens an account through the form and returns its id once the operation succeeded. */
export async function openAccount(page: Page, owner: string, initialBalance: number) {
  await page.getByTestId('open-owner').fill(owner);
  await page.getByTestId('open-balance').fill(String(initialBalance));
  const row = await submitOperation(page, () => page.getByTestId('open-submit').click());
  await waitForAttribute(row, 'data-state', 'succeeded');
  const id = await row.getAttribute('data-result-id');
  expect(id).toMatch(/^acc_/);
  await expect
    .poll(() => page.locator(`[data-testid="account"][data-account-id="${id}"]`).count())
    .toBe(1);
  return id!;
}

/** Fills the transfer form. */
export async function fillTransfer(page: Page, from: string, to: string, amount: number) {
  await page.getByTestId('transfer-from').fill(from);
  await page.getByTestId('transfer-to').fill(to);
  await page.getByTestId('transfer-amount').fill(String(amount));
}

/** The balance an account's element shows. */
export function shownBalance(page: Page, accountId: string) {
  return page
    .locator(`[data-testid="account"][data-account-id="${accountId}"]`)
    .getAttribute('data-balance');
}
