/** Where the answers are documented, and the answers shared by several categories. */

export const KEY_DOC = 'SPEC 1.2–1.3, 8; server README (400 IDEMPOTENCY_KEY_INVALID)';
export const KEY_INVALID = {
  status: 400,
  code: 'BAD_REQUEST',
  reason: 'IDEMPOTENCY_KEY_INVALID',
} as const;

export const INPUT_DOC = 'SPEC 4.6, 9; server README (400 invalid input, nothing stored)';
export const INVALID_INPUT = { status: 400, code: 'BAD_REQUEST', reason: null } as const;

export const IDENTITY_DOC = 'SPEC 1.4, 9; server README, the identity rule (401, nothing stored)';
export const IDENTITY_REFUSED = { status: 401, code: 'UNAUTHORIZED', reason: null } as const;
export const UNAUTHORIZED_DOC = 'SPEC 9; server README (401 UNAUTHORIZED, nothing stored)';

export const REUSED_DOC = 'SPEC 2.3, 8; server README (422 IDEMPOTENCY_KEY_REUSED)';
export const KEY_REUSED = {
  status: 422,
  code: 'UNPROCESSABLE_CONTENT',
  reason: 'IDEMPOTENCY_KEY_REUSED',
} as const;
