import { describe, expect, it } from 'vitest';
import { type FaultKind, startFaultProxy } from '../src';
import { echoServer, expectPassedThrough } from './echoServer';

const post = (url: string, body = '{"n":1}') =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/** The proxy's fault counts, by kind. */
const faults = (lostResponse: number, reset: number, badGateway: number) => ({
  lostResponse,
  reset,
  badGateway,
});

describe('fault proxy', () => {
  it('passes requests and answers through untouched at rate 0', async () => {
    await using upstream = await echoServer();
    await using proxy = await startFaultProxy({ target: upstream.origin });
    await expectPassedThrough(proxy.url);
    expect(proxy.stats).toEqual({ requests: 1, forwarded: 1, faults: faults(0, 0, 0) });
  });

  it('injects each kind of fault as scripted', async () => {
    await using upstream = await echoServer();
    const script: FaultKind[] = ['lostResponse', 'reset', 'badGateway'];
    await using proxy = await startFaultProxy({
      target: upstream.origin,
      decide: (n) => script[n],
    });

    // Lost response: the server finished the request, the client only sees the connection drop.
    await expect(post(`${proxy.url}/a`)).rejects.toThrow(/fetch failed/);
    expect(upstream.finished()).toBe(1);
    // Reset before forwarding: the server never sees it.
    await expect(post(`${proxy.url}/b`)).rejects.toThrow(/fetch failed/);
    // 502 like a proxy's own error page: not forwarded either.
    const badGateway = await post(`${proxy.url}/c`);
    expect(badGateway.status).toBe(502);
    expect(badGateway.headers.get('content-type')).toBe('text/html');
    expect(await badGateway.text()).toContain('502 Bad Gateway');
    // The script is over: forwarded normally.
    expect((await post(`${proxy.url}/d`)).status).toBe(201);
    expect(upstream.finished()).toBe(2);
    expect(proxy.stats).toEqual({ requests: 4, forwarded: 2, faults: faults(1, 1, 1) });
  });

  it('never breaks queries (GET) by default', async () => {
    await using upstream = await echoServer();
    await using proxy = await startFaultProxy({ target: upstream.origin, faultRate: 1 });
    for (let i = 0; i < 5; i++) expect((await fetch(`${proxy.url}/q`)).status).toBe(201);
    expect(proxy.stats.faults).toEqual(faults(0, 0, 0));
  });

  it('makes the same decisions for the same seed', async () => {
    await using upstream = await echoServer();
    async function outcomes(seed: number) {
      await using proxy = await startFaultProxy({ target: upstream.origin, faultRate: 0.4, seed });
      const seen: string[] = [];
      for (let i = 0; i < 40; i++) {
        const response = await post(proxy.url).catch(() => undefined);
        seen.push(response === undefined ? 'dropped' : String(response.status));
      }
      return { seen, faults: { ...proxy.stats.faults } };
    }
    const first = await outcomes(5);
    expect(await outcomes(5)).toEqual(first);
    expect((await outcomes(6)).seen).not.toEqual(first.seen);
    const injected = Object.values(first.faults).reduce((a, b) => a + b, 0);
    expect(injected).toBeGreaterThan(0);
    expect(injected).toBeLessThan(40);
  });

  it('refuses a rate outside [0, 1]', async () => {
    await expect(startFaultProxy({ target: 'http://127.0.0.1:1', faultRate: 1.5 })).rejects.toThrow(
      RangeError,
    );
  });
});
