import { IDEMPOTENCY_KEY_FIELD } from '../shared/reasons';

/**
 * What makes two submissions "the same input" (SPEC 7.8), one rule for the
 * hook's draft and the pending operations' memory of completed intents: the
 * variables without their key, as JSON with object keys in order. Not a
 * fingerprint (the server's decides): only compared on the client.
 */
export function intentInputOf(variables: unknown): string {
  return sameInputText(withoutKey(variables));
}

/** Key order-insensitive text of an input, to tell "the same form submitted again" from "the form changed". */
function sameInputText(value: unknown): string {
  return (
    JSON.stringify(value, (_key, item: unknown) => {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
      if (Object.getPrototypeOf(item) !== Object.prototype) return item;
      const record = item as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(record)
          .sort()
          .map((name) => [name, record[name]]),
      );
    }) ?? 'undefined'
  );
}

function withoutKey(input: unknown): unknown {
  if (typeof input !== 'object' || input === null) return input;
  const { [IDEMPOTENCY_KEY_FIELD]: _key, ...rest } = input as Record<string, unknown>;
  return rest;
}
