import { hash } from 'node:crypto';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';

/**
 * Canonical JSON: object keys sorted recursively, so key order in a request
 * never changes the fingerprint. Keys are read with `Object.keys` and written
 * into a fresh string, never assigned onto an object, so `__proto__` or
 * `constructor` in the input are just keys like any other and cannot pollute
 * prototypes or be dropped. `toJSON` (e.g. `Date`) is honoured as in
 * `JSON.stringify`; values JSON cannot hold become `null`.
 */
export function canonicalJson(value: unknown): string {
  return write(value, 0);
}

// Deeper than this is never a real mutation input; refuse rather than overflow the stack.
const MAX_DEPTH = 256;

function write(value: unknown, depth: number): string {
  if (depth > MAX_DEPTH) {
    throw new RangeError(`input is nested deeper than ${MAX_DEPTH} levels`);
  }
  if (value !== null && typeof value === 'object') {
    const json = (value as { toJSON?: unknown }).toJSON;
    if (typeof json === 'function') {
      return write(json.call(value), depth + 1);
    }
    if (Array.isArray(value)) {
      return `[${value.map((item) => write(item, depth + 1)).join(',')}]`;
    }
    const record = value as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(record).sort()) {
      const item = record[key];
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      parts.push(`${JSON.stringify(key)}:${write(item, depth + 1)}`);
    }
    return `{${parts.join(',')}}`;
  }
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    return 'null';
  }
  return JSON.stringify(value);
}

/**
 * SHA-256 of the canonical JSON of `input` without its `idempotencyKey`.
 * Computed once from the input as it arrived (SPEC 2.2).
 */
export function fingerprintInput(input: unknown): string {
  let rest = input;
  if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
    const { [IDEMPOTENCY_KEY_FIELD]: _key, ...others } = input as Record<string, unknown>;
    rest = others;
  }
  // One-shot `hash` (Node ≥ 20.12): the same digest as createHash, without a Hash object per call.
  return hash('sha256', canonicalJson(rest), 'base64url');
}
