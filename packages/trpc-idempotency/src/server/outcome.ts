import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { StoredError, StoredOutcome } from '../store/record';

/** The serializer outcomes are stored with; tRPC's `DataTransformer` fits. */
export interface OutcomeTransformer {
  serialize(value: unknown): unknown;
  deserialize(value: unknown): unknown;
}

const identity: OutcomeTransformer = { serialize: (v) => v, deserialize: (v) => v };

/** Encodes and decodes handler outcomes (and step results) for storage. */
export interface OutcomeCodec {
  /** A value as stored text (`null` for `undefined`); throws if it cannot be stored. */
  encodeValue(value: unknown): string | null;
  /** A stored value, fresh on every call. */
  decodeValue(body: string | null): unknown;
  encodeResult(value: unknown): StoredOutcome;
  encodeError(error: TRPCError): StoredOutcome;
  /** Returns the result, or throws the stored error. Each call makes a fresh value. */
  replay(outcome: StoredOutcome): unknown;
}

export function createOutcomeCodec(opts: {
  transformer?: OutcomeTransformer | undefined;
  maxResponseBytes: number;
}): OutcomeCodec {
  const transformer = opts.transformer ?? identity;
  const limit = opts.maxResponseBytes;
  const checkSize = (body: string) => {
    // A UTF-8 byte is at most 3 per UTF-16 unit: skip the exact count when it cannot exceed.
    if (body.length * 3 > limit && Buffer.byteLength(body) > limit) {
      throw new RangeError(
        `it is ${Buffer.byteLength(body)} bytes, more than maxResponseBytes (${limit})`,
      );
    }
    return body;
  };
  const encodeValue = (value: unknown) => {
    if (value === undefined) return null;
    const body = JSON.stringify(transformer.serialize(value));
    if (body === undefined) throw new TypeError(`a ${typeof value} cannot be serialized`);
    return checkSize(body);
  };
  const decodeValue = (body: string | null) =>
    body === null ? undefined : transformer.deserialize(JSON.parse(body));
  return {
    encodeValue,
    decodeValue,
    encodeResult: (value) => ({ kind: 'result', body: encodeValue(value) }),
    encodeError(error) {
      return { kind: 'error', body: checkSize(JSON.stringify(toStoredError(error))) };
    },
    replay(outcome) {
      if (outcome.kind === 'error') throw fromStoredError(JSON.parse(outcome.body));
      return decodeValue(outcome.body);
    },
  };
}

function toStoredError(error: TRPCError): StoredError {
  const stored: StoredError = { code: error.code, message: error.message };
  const cause = error.cause;
  if (cause instanceof Error && cause !== error) {
    // shape: a final error's outcome, once per stored error
    stored.cause = { ...plainFields(cause), name: cause.name, message: cause.message };
  }
  return stored;
}

/** The cause's own enumerable fields that survive JSON unchanged. */
function plainFields(cause: Error): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(cause)) {
    if (name === 'stack' || name === 'cause') continue;
    try {
      const json = JSON.stringify(value);
      if (json !== undefined) fields[name] = JSON.parse(json);
    } catch {
      // not JSON-safe (cycle, bigint): it would not replay identically, leave it out
    }
  }
  return fields;
}

/** The `cause` of a replayed error: the stored name, message and plain fields. */
export class ReplayedErrorCause extends Error {
  constructor(stored: NonNullable<StoredError['cause']>) {
    super(stored.message);
    Object.assign(this, stored);
  }
}

function fromStoredError(stored: StoredError): TRPCError {
  return new TRPCError({
    code: stored.code as TRPCError['code'],
    message: stored.message,
    cause: stored.cause ? new ReplayedErrorCause(stored.cause) : undefined,
  });
}

const TRANSIENT_CLIENT_CODES = new Set<TRPCError['code']>([
  'TOO_MANY_REQUESTS',
  'TIMEOUT',
  'CLIENT_CLOSED_REQUEST',
]);

/**
 * The default of `isFinalError` (README.md#errors): a `TRPCError` with a 4xx code is a deterministic answer to this
 * input and is stored; everything else (5xx, timeouts, rate limits, plain
 * exceptions) is transient and releases the key.
 */
export function isFinalErrorDefault(error: unknown): boolean {
  if (!(error instanceof TRPCError)) return false;
  const status = getHTTPStatusCodeFromError(error);
  return status >= 400 && status < 500 && !TRANSIENT_CLIENT_CODES.has(error.code);
}
