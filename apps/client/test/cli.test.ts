import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type LedgerServerProcess, startFaultProxy, startLedgerServer } from '@ledger/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliOverrides, runCli } from '../src/cli';

/** Runs the CLI in this process and captures what it prints. */
async function cli(
  argv: string[],
  env: Record<string, string> = {},
  overrides: CliOverrides = { retry: { baseDelayMs: 5, maxDelayMs: 20 } },
) {
  let stdout = '';
  let stderr = '';
  const code = await runCli(
    argv,
    {
      stdout: { write: (text: string) => (stdout += text) },
      stderr: { write: (text: string) => (stderr += text) },
      env,
    },
    overrides,
  );
  return { code, stdout, stderr };
}

/** A loopback port nothing listens on. */
async function closedPort() {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('ledger CLI: usage', () => {
  it('prints help with exit 0', async () => {
    const { code, stdout } = await cli(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('ledger transfer <from> <to> <amount> [--key K]');
    expect(stdout).toContain('Exit codes');
  });

  it.each([
    [[], /Usage:/],
    [['frob'], /unknown command: frob/],
    [['balance'], /balance takes 1 argument, got 0/],
    [['transfer', 'a', 'b', '-3', '--user', 'u'], /Unknown option '-3'|amount must be/],
    [['transfer', 'a', 'b', '1.5', '--user', 'u'], /amount must be a whole number ≥ 1/],
    [['open', 'Ann', 'lots', '--user', 'u'], /initialBalance must be a whole number ≥ 0/],
    [['transfer', 'a', 'b', '5'], /needs to know who you are/],
    [['balance', 'acc_x', '--key', 'k'], /--key is an option of open and transfer/],
    [['transfer', 'a', 'b', '5', '--seed', '3'], /--seed is an option of demo/],
    [['demo', '--fault-rate', '2'], /--fault-rate must be a number from 0 to 1/],
    [['balance', 'x', '--nope'], /Unknown option '--nope'/],
  ])('%j is a usage error (exit 2)', async (argv, message) => {
    const { code, stderr } = await cli(argv);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
  });
});

describe('ledger CLI against the server', () => {
  let server: LedgerServerProcess;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startLedgerServer();
    env = { LEDGER_URL: server.url, LEDGER_USER: 'carol' };
  });
  afterAll(async () => {
    await server[Symbol.asyncDispose]();
  });

  async function open(owner: string, balance: number) {
    const { code, stdout } = await cli(['open', owner, String(balance), '--json'], env);
    expect(code).toBe(0);
    return (JSON.parse(stdout) as { id: string }).id;
  }

  it('opens, transfers, shows balances and history', async () => {
    const opened = await cli(['open', 'Ann', '100'], env);
    expect(opened).toMatchObject({ code: 0, stderr: '' });
    const a = /Opened (acc_\w+) for Ann with balance 100\./.exec(opened.stdout)![1]!;
    const b = await open('Ben', 0);
    const transfer = await cli(['transfer', a, b, '40', '--url', server.url, '--user', 'dave'], {});
    expect(transfer.code).toBe(0);
    expect(transfer.stdout).toMatch(new RegExp(`^Transferred 40 from ${a} to ${b} \\(tr_\\w+, `));
    expect(await cli(['balance', a], env)).toMatchObject({ code: 0, stdout: `${a} (Ann): 60\n` });
    const history = await cli(['history', b], env);
    expect(history.code).toBe(0);
    expect(history.stdout).toMatch(new RegExp(`  tr_\\w+  ${a} → ${b}  +40\\n$`));
    expect((await cli(['history', a, '--json'], env)).stdout).toContain('"amount": 40');
  });

  it('exit 1 when the server says no, explained in words', async () => {
    const a = await open('Ann', 10);
    const b = await open('Ben', 0);
    const poor = await cli(['transfer', a, b, '11'], env);
    expect(poor.code).toBe(1);
    expect(poor.stderr).toMatch(/^ledger: refused: insufficient funds: account acc_\w+ has 10/);
    const missing = await cli(['balance', 'acc_nobody'], env);
    expect(missing).toMatchObject({ code: 1, stderr: 'ledger: account acc_nobody not found\n' });
    const key = 'cli-test-key-0123456789';
    expect((await cli(['transfer', a, b, '1', '--key', key], env)).code).toBe(0);
    const reused = await cli(['transfer', a, b, '2', '--key', key], env);
    expect(reused.code).toBe(1);
    expect(reused.stderr).toMatch(/already used for a different operation/);
    const badKey = await cli(['transfer', a, b, '1', '--key', 'short'], env);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/idempotency key was refused: `idempotencyKey` is too short/);
  });

  it('exit 3 when the server cannot be reached; the printed key then settles the transfer once', async () => {
    const a = await open('Ann', 50);
    const b = await open('Ben', 0);
    const unreachable = `http://127.0.0.1:${await closedPort()}/trpc`;
    const failed = await cli(['transfer', a, b, '20', '--url', unreachable], env, {
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 10 },
    });
    expect(failed.code).toBe(3);
    expect(failed.stderr).toMatch(
      /retrying transfers\.create \(attempt 2\) in \d+ ms: fetch failed/,
    );
    expect(failed.stderr).toMatch(/retrying transfers\.create \(attempt 3\)/);
    expect(failed.stderr).toContain(`could not get an answer from ${unreachable}`);
    const key = /run the same command again with --key (\S+):/.exec(failed.stderr)?.[1];
    expect(key).toBeDefined();

    const settled = await cli(['transfer', a, b, '20', '--key', key!], env);
    const again = await cli(['transfer', a, b, '20', '--key', key!], env);
    expect(settled.code).toBe(0);
    expect(again).toEqual(settled);
    expect((await cli(['balance', a], env)).stdout).toContain(': 30');
  });

  it('reports retries when an answer was lost, and still transfers once', async () => {
    const a = await open('Ann', 50);
    const b = await open('Ben', 0);
    await using proxy = await startFaultProxy({
      target: new URL(server.url).origin,
      decide: (n) => (n === 0 ? 'lostResponse' : undefined),
    });
    const moved = await cli(['transfer', a, b, '5', '--url', `${proxy.url}/trpc`], env);
    expect(moved.code).toBe(0);
    expect(moved.stderr).toMatch(
      /^retrying transfers\.create \(attempt 2\) in \d+ ms: fetch failed/,
    );
    expect(moved.stderr).toContain('(succeeded after 2 attempts, with the same key)');
    expect((await cli(['balance', a], env)).stdout).toContain(': 45');
  });
});
