/**
 * Takes the README's screenshot of the web app: the ledger server on a temp
 * database serving the built app (`pnpm --filter @ledger/web build` first),
 * a few operations through the flaky network, a transfer submitted again
 * (already done), one whose requests all fail (waiting for network), then a PNG.
 * Run: pnpm --filter @ledger/web screenshot
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLedgerApp } from '@ledger/server';
import type { FaultKind } from '@ledger/testkit';
import type { Page } from 'playwright-core';
import { launchChromium } from '../test/browser';

const out = fileURLToPath(new URL('../docs/screenshot.png', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ledger-screenshot-'));
const plan: Array<FaultKind | undefined> = ['lostResponse', undefined, 'badGateway', 'reset'];
const app = createLedgerApp({
  databaseUrl: `file:${join(dir, 'ledger.db')}`,
  web: { flaky: { decide: (n) => plan[n] } },
});
const { url } = await app.listen({ port: 0, host: '127.0.0.1' });
const browser = await launchChromium();

async function settled(page: Page, count: number) {
  await page.waitForFunction(
    (n) =>
      document.querySelectorAll('[data-testid="operation"]').length === n &&
      !document.querySelector('[data-testid="operation"][data-state="pending"]') &&
      !document.querySelector('[data-testid="operation"][data-state="retrying"]'),
    count,
  );
}

try {
  const page = await browser.newPage({
    viewport: { width: 1180, height: 860 },
    deviceScaleFactor: 1,
  });
  await page.goto(new URL(url).origin);
  const open = async (owner: string, balance: number, n: number) => {
    await page.getByTestId('open-owner').fill(owner);
    await page.getByTestId('open-balance').fill(String(balance));
    await page.getByTestId('open-submit').click();
    await settled(page, n);
    return (await page.getByTestId('operation').first().getAttribute('data-result-id'))!;
  };
  const ada = await open('Ada Lovelace', 1200, 1);
  const grace = await open('Grace Hopper', 300, 2);
  const transfer = async (from: string, to: string, amount: number, n: number) => {
    await page.getByTestId('transfer-from').fill(from);
    await page.getByTestId('transfer-to').fill(to);
    await page.getByTestId('transfer-amount').fill(String(amount));
    await page.getByTestId('transfer-submit').click();
    await settled(page, n);
  };
  await transfer(ada, grace, 250, 3);
  await page.getByTestId('flaky').check({ force: true });
  await transfer(grace, ada, 75, 4);
  await transfer(ada, grace, 40, 5);
  // The same transfer submitted again: the same operation, replayed, "Already done".
  await page.getByTestId('transfer-submit').click();
  await page.waitForSelector('[data-testid="operation"][data-already-done="true"]');
  await page.getByTestId('flaky').uncheck({ force: true });
  await transfer(grace, ada, 5000, 6);
  // The network fails for every transfer: the operation waits, with its key, never "failed".
  await page.route('**/trpc/transfers.create**', (route) => route.abort('connectionreset'));
  await page.getByTestId('transfer-new').click();
  await page.getByTestId('transfer-from').fill(ada);
  await page.getByTestId('transfer-to').fill(grace);
  await page.getByTestId('transfer-amount').fill('60');
  await page.getByTestId('transfer-submit').click();
  await page.waitForSelector('[data-testid="operation"].waiting[data-state="retrying"]');
  await page.waitForTimeout(300);
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await app.close();
  rmSync(dir, { recursive: true, force: true });
}
