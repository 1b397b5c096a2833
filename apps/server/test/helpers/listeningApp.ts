import { request } from 'node:http';
import { type LedgerAppOptions, openLedgerApp } from '../../src/app';
import { createLogger } from '../../src/logger';

/** A log line of the app, parsed. */
export type AppLogLine = { level: string; msg: string } & Record<string, unknown>;

/** An answer read once: status and the parsed JSON body. */
export interface RawAnswer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON from the wire, checked by the assertions
  body: any;
  text: string;
}

/**
 * The ledger app in this process, listening on a free loopback port, logging
 * at `info` into `logs`; `post` sends `x-user-id` as exact bytes. `await
 * using` closes it.
 */
export async function listeningLedgerApp(opts: LedgerAppOptions & { databaseUrl: string }) {
  const logs: AppLogLine[] = [];
  const app = await openLedgerApp({
    ...opts,
    logger: createLogger({
      level: 'info',
      write: (line) => logs.push(JSON.parse(line) as AppLogLine),
    }),
  });
  const { url } = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    url,
    logs,
    /**
     * POST `input` as JSON to `/trpc/<path>`: `user` is sent as `x-user-id`,
     * as exact bytes (UTF-8 when a string); several ASCII values are several
     * header lines; `null` sends none.
     */
    async post(
      path: string,
      input: unknown,
      user: string | Buffer | string[] | null = 'alice',
    ): Promise<RawAnswer> {
      const body = JSON.stringify(input);
      if (Array.isArray(user)) return postWithHeaderLines(`${url}/${path}`, body, user);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      // fetch sends each character of a header value as one byte (Latin-1): the bytes, exactly.
      if (user !== null) headers['x-user-id'] = Buffer.from(user).toString('latin1');
      const response = await fetch(`${url}/${path}`, { method: 'POST', headers, body });
      return answer(response.status, await response.text());
    },
    async [Symbol.asyncDispose]() {
      await app.close();
    },
  };
}

function answer(status: number, text: string): RawAnswer {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status, body, text };
}

/** `fetch` joins repeated headers into one line; node:http sends an array as several. */
function postWithHeaderLines(url: string, body: string, users: string[]) {
  return new Promise<RawAnswer>((resolve, reject) => {
    const sent = request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': users },
    });
    sent.on('error', reject);
    sent.on('response', (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => resolve(answer(response.statusCode ?? 0, text)));
    });
    sent.end(body);
  });
}
