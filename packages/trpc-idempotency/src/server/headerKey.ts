/**
 * The standard `Idempotency-Key` request header (the IETF httpapi draft's,
 * as Stripe reads it), SPEC 1.5: on a request that carries a single call it
 * supplies the key when the input has none. It reaches the builder through
 * the request's context, which `idempotencyResponseContext({ req, info })`
 * fills from the options every tRPC adapter's `createContext` gets.
 * @see README.md#the-idempotency-key-header
 */

/** The request headers of tRPC's adapters: a Fetch `Headers`, or Node's `IncomingHttpHeaders`. */
export type RequestHeaders =
  | { get(name: string): string | null }
  | Record<string, string | string[] | undefined>;

/**
 * The parts of a `createContext`'s options the header depends on: the
 * request (`req`, any adapter's) and tRPC's `info`, whose `calls` tell a
 * batch of several calls, which ignores the header.
 * @see README.md#the-idempotency-key-header
 */
export interface IdempotencyRequestOptions {
  req?: { headers: RequestHeaders } | undefined;
  info?: { calls: readonly unknown[] } | undefined;
}

/** The header's name, as the draft spells it. */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/**
 * The `Idempotency-Key` header's value as a key candidate (not yet checked
 * against the key format), or `undefined` when the request has none or
 * carries several calls. REST front-ends (trpc-to-openapi) list no calls:
 * each of their requests is one call.
 */
export function idempotencyKeyHeader(request: IdempotencyRequestOptions): string | undefined {
  if ((request.info?.calls.length ?? 0) > 1) return undefined;
  const headers = request.req?.headers;
  if (!headers) return undefined;
  const raw =
    typeof headers.get === 'function'
      ? (headers as { get(name: string): string | null }).get('idempotency-key')
      : (headers as Record<string, string | string[] | undefined>)['idempotency-key'];
  if (raw === null || raw === undefined) return undefined;
  // Sent twice, the header is two keys: joined, they fail the format as one would.
  const value = (Array.isArray(raw) ? raw.join(', ') : raw).trim();
  return unquoted(value);
}

/**
 * The draft makes the value a Structured Field string (`"…"`); Stripe's
 * clients send it bare. Both are taken: a quoted value is unescaped.
 */
function unquoted(value: string) {
  if (value.length < 2 || !value.startsWith('"') || !value.endsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(["\\])/g, '$1');
}
