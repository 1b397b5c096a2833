import { KEY_DOC, KEY_INVALID } from './documented';
import { json, storesOutcome, transfer, transferRequest } from './requests';
import type { HostileCase, HostileFixture } from './types';

/** A body that is not JSON tRPC can parse. */
const unparsable = (name: string, body: (f: HostileFixture) => string): HostileCase => ({
  name,
  documented: 'tRPC over HTTP (400 BAD_REQUEST on an unparsable body)',
  request: (f) => ({ path: 'transfers.create', body: body(f) }),
  expect: { status: 400, code: 'BAD_REQUEST', message: /JSON/ },
});

/** A body that is not an input object: refused as an invalid key. */
const notAnObject = (name: string, body: (f: HostileFixture) => string): HostileCase => ({
  name,
  documented: KEY_DOC,
  request: (f) => ({ path: 'transfers.create', body: body(f) }),
  expect: { ...KEY_INVALID, message: /input is not an object/ },
});

/** The body or the request itself is broken. */
export const transportCases: HostileCase[] = [
  unparsable('malformed JSON', () => '{'),
  unparsable('truncated JSON', (f) => json(transfer(f)).slice(0, 40)),
  notAnObject('empty body', () => ''),
  notAnObject('body is a JSON array', (f) => json([transfer(f)])),
  notAnObject('body is a JSON string', () => '"transfer everything"'),
  notAnObject('body is null', () => 'null'),
  {
    name: 'content-type text/plain',
    documented: 'tRPC over HTTP (415 UNSUPPORTED_MEDIA_TYPE)',
    request: (f) => ({ ...transferRequest(f), headers: { 'content-type': 'text/plain' } }),
    expect: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  },
  {
    name: 'body over 1 MiB',
    documented: 'server (maxBodySize 1 MiB): 413 PAYLOAD_TOO_LARGE',
    request: (f) => transferRequest(f, { pad: 'x'.repeat(1_100_000) }),
    expect: { status: 413, code: 'PAYLOAD_TOO_LARGE' },
  },
  {
    name: 'a 900 kB payload under the 1 MiB limit (an unknown field) executes',
    documented: 'server (maxBodySize 1 MiB); SPEC 2.1 (the fingerprint covers the input as sent)',
    request: (f) => transferRequest(f, { pad: 'x'.repeat(900_000) }),
    expect: { status: 200 },
    records: storesOutcome('result'),
    effects: { transfers: 1 },
  },
  {
    name: 'GET on a mutation',
    documented: 'SPEC 9 (mutations are POST); tRPC: 405 METHOD_NOT_SUPPORTED',
    request: (f) => ({
      method: 'GET',
      path: 'transfers.create',
      query: `?input=${encodeURIComponent(json(transfer(f)))}`,
    }),
    expect: { status: 405, code: 'METHOD_NOT_SUPPORTED' },
  },
  {
    name: 'POST to a query',
    documented: 'SPEC 9 (queries are GET); tRPC: 405 METHOD_NOT_SUPPORTED',
    request: (f) => ({ path: 'accounts.get', body: json({ id: f.payer }) }),
    expect: { status: 405, code: 'METHOD_NOT_SUPPORTED' },
  },
  {
    name: 'unknown procedure',
    documented: 'tRPC: 404 NOT_FOUND for a path with no procedure',
    request: (f) => ({ path: 'transfers.reverse', body: json(transfer(f)) }),
    expect: { status: 404, code: 'NOT_FOUND' },
  },
  {
    name: 'path outside /trpc',
    documented: 'server README (any other path answers 404)',
    request: (f) => ({ path: '../admin', body: json(transfer(f)) }),
    expect: { status: 404 },
  },
];
