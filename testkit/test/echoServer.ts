import { createServer } from 'node:http';
import { expect } from 'vitest';
import { listenOnLoopback } from '../src/network/forwarding';

/** A tiny upstream that echoes the request and counts the requests it finished. */
export async function echoServer() {
  let finished = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      finished++;
      res.writeHead(201, { 'content-type': 'application/json', 'x-echo': 'yes' });
      res.end(JSON.stringify({ method: req.method, url: req.url, body }));
    });
  });
  const { url, close } = await listenOnLoopback(server);
  return { origin: url, finished: () => finished, [Symbol.asyncDispose]: close };
}

/** POSTs a batch through `proxyUrl` to an {@link echoServer} and expects it to arrive and come back untouched. */
export async function expectPassedThrough(proxyUrl: string) {
  const response = await fetch(`${proxyUrl}/trpc/x?batch=1`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"0":{"a":1}}',
  });
  expect(response.status).toBe(201);
  expect(response.headers.get('x-echo')).toBe('yes');
  expect(await response.json()).toEqual({
    method: 'POST',
    url: '/trpc/x?batch=1',
    body: '{"0":{"a":1}}',
  });
}
