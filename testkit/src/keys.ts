import { randomUUID } from 'node:crypto';

/** A fresh idempotency key that passes the default format: `label-<uuid>`. */
export function newKey(label = 'key') {
  return `${label}-${randomUUID()}`;
}
