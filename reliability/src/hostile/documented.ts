/** Where the answers are documented, and the answers shared by several categories. */

/** An error answer: HTTP status, `error.data.code` and `error.data.reason` (`null`: none). */
const answer = <const TStatus extends number, const TCode extends string, const TReason>(
  status: TStatus,
  code: TCode,
  reason: TReason,
) => ({ status, code, reason });

export const KEY_DOC = 'SPEC 1.2–1.3, 8; server README (400 IDEMPOTENCY_KEY_INVALID)';
export const KEY_INVALID = answer(400, 'BAD_REQUEST', 'IDEMPOTENCY_KEY_INVALID');

export const INPUT_DOC = 'SPEC 4.6, 9; server README (400 invalid input, nothing stored)';
export const INVALID_INPUT = answer(400, 'BAD_REQUEST', null);

export const IDENTITY_DOC = 'SPEC 1.4, 9; server README, the identity rule (401, nothing stored)';
export const IDENTITY_REFUSED = answer(401, 'UNAUTHORIZED', null);
export const UNAUTHORIZED_DOC = 'SPEC 9; server README (401 UNAUTHORIZED, nothing stored)';

export const REUSED_DOC = 'SPEC 2.3, 8; server README (422 IDEMPOTENCY_KEY_REUSED)';
export const KEY_REUSED = answer(422, 'UNPROCESSABLE_CONTENT', 'IDEMPOTENCY_KEY_REUSED');
