import type { IdempotencyKeyInput, IdempotencyKeyOutput } from '../shared/idempotentInput';
import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';

/**
 * The accepted shape of an idempotency key.
 * @see README.md#options
 */
export interface KeyFormat {
  /** Default 16. */
  minLength?: number;
  /** Default 255. */
  maxLength?: number;
  /** Characters allowed; default `/^[A-Za-z0-9._:-]+$/` (UUIDs, ULIDs, prefixed ids). */
  pattern?: RegExp;
  /** How the pattern reads in an error message; default `letters, digits and . _ : -`. */
  patternDescription?: string;
}

const DEFAULT_PATTERN = /^[A-Za-z0-9._:-]+$/;

export type { IdempotencyKeyInput, IdempotencyKeyOutput } from '../shared/idempotentInput';

/** Thrown by the key parser; tRPC wraps it in a `BAD_REQUEST` as its `cause`. */
export class IdempotencyKeyInvalidError extends Error {
  override readonly name = 'IdempotencyKeyInvalidError';
}

/**
 * Builds the tRPC input parser for `{ idempotencyKey }`. It is a parse
 * function with zod-style type markers, so the key is optional in the input
 * type callers see (a link may add it) and required in the parsed input.
 */
export function createKeyParser(format: KeyFormat = {}) {
  const min = format.minLength ?? 16;
  const max = format.maxLength ?? 255;
  const pattern = format.pattern ?? DEFAULT_PATTERN;
  const described = format.patternDescription ?? 'letters, digits and . _ : -';
  const rule = `a string of ${min}–${max} characters (${described})`;
  const fail = (field: string, problem: string): never => {
    throw new IdempotencyKeyInvalidError(`${field} ${problem}: it must be ${rule}`);
  };
  /** The key if it follows the format, else the error naming `field` and the rule. */
  const check = (key: unknown, field: string): string => {
    if (key === undefined || key === null) return fail(field, 'is missing');
    if (key === '') return fail(field, 'is empty');
    if (typeof key !== 'string') return fail(field, `is a ${typeof key}`);
    if (key.length < min) return fail(field, `is too short (${key.length} characters)`);
    if (key.length > max) return fail(field, `is too long (${key.length} characters)`);
    if (!pattern.test(key)) return fail(field, 'contains characters that are not allowed');
    return key;
  };
  const inputField = `\`${IDEMPOTENCY_KEY_FIELD}\``;

  const parseInput = (input: unknown): IdempotencyKeyOutput => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      return fail(inputField, 'is missing because the input is not an object');
    }
    const key = (input as Record<string, unknown>)[IDEMPOTENCY_KEY_FIELD];
    return { [IDEMPOTENCY_KEY_FIELD]: check(key, inputField) };
  };

  /**
   * The key of a call: the input's, or else (`fromHeader`, SPEC 1.5) the
   * `Idempotency-Key` header's, under the same rules.
   */
  const parse = (input: unknown, fromHeader?: string): IdempotencyKeyOutput => {
    if (fromHeader === undefined || inputHasKey(input)) return parseInput(input);
    return { [IDEMPOTENCY_KEY_FIELD]: check(fromHeader, 'the `Idempotency-Key` header') };
  };
  return { parse } as {
    parse: typeof parse;
    _input: IdempotencyKeyInput;
    _output: IdempotencyKeyOutput;
  };
}

/** Whether the input carries a key of its own (valid or not): then it wins over the header. */
function inputHasKey(input: unknown) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return false;
  const key = (input as Record<string, unknown>)[IDEMPOTENCY_KEY_FIELD];
  return key !== undefined && key !== null;
}
