import { createServer } from 'node:http';
import { describe, expect, it } from 'vitest';
import { type LatencyProxyOptions, startLatencyProxy } from '../src';
import { listenOnLoopback } from '../src/network/forwarding';
import { echoServer, expectPassedThrough } from './echoServer';

const post = (url: string, body: string) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

/** A latency proxy in front of `upstream`. */
const delaying = (upstream: { origin: string }, opts: Omit<LatencyProxyOptions, 'target'>) =>
  startLatencyProxy({ target: upstream.origin, ...opts });

describe('latency proxy', () => {
  it('passes requests and answers through at rate 0', async () => {
    await using upstream = await echoServer();
    await using proxy = await delaying(upstream, { rate: 0, maxDelayMs: 1000, seed: 1 });
    await expectPassedThrough(proxy.url);
    expect(proxy.stats).toEqual({
      requests: 1,
      delayedRequests: 0,
      delayedResponses: 0,
      dropped: 0,
    });
  });

  it('delays every request and every answer at rate 1, and still delivers them whole', async () => {
    await using upstream = await echoServer();
    await using proxy = await delaying(upstream, { rate: 1, maxDelayMs: 20, seed: 2 });
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => post(`${proxy.url}/n${i}`, `{"n":${i}}`)),
    );
    expect(await Promise.all(answers.map((answer) => answer.json()))).toEqual(
      Array.from({ length: 5 }, (_, i) => ({ method: 'POST', url: `/n${i}`, body: `{"n":${i}}` })),
    );
    expect(upstream.finished()).toBe(5);
    expect(proxy.stats).toMatchObject({ requests: 5, delayedRequests: 5, delayedResponses: 5 });
  });

  it('drops the client’s connection when the server cannot be reached or drops its own', async () => {
    const dropping = createServer((req) => req.socket.destroy());
    const upstream = await listenOnLoopback(dropping);
    await using proxy = await startLatencyProxy({
      target: upstream.url,
      rate: 0,
      maxDelayMs: 1,
      seed: 3,
    });
    await expect(post(proxy.url, '{}')).rejects.toThrow(/fetch failed/);
    await upstream.close();
    await expect(post(proxy.url, '{}')).rejects.toThrow(/fetch failed/);
    expect(proxy.stats.dropped).toBe(2);
  });
});
