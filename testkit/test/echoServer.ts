import { createServer } from 'node:http';
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
