import type { IncomingMessage } from 'node:http';

/** The longest accepted `x-user-id`, in characters (Unicode code points). */
export const MAX_USER_ID_LENGTH = 128;

/** The rule every refusal quotes, as the README's "Who may do what" states it. */
export const USER_ID_RULE = `an identity is 1–${MAX_USER_ID_LENGTH} characters of well-formed UTF-8, without whitespace at either end, control or format characters`;

/**
 * The caller's identity from `x-user-id`: absent, accepted (`userId`), or
 * refused (`refusal` says why). Never normalised: every accepted header value
 * is its own principal, and two distinct header values are never one.
 */
export type CallerIdentity =
  | { userId: undefined; refusal: undefined }
  | { userId: string; refusal: undefined }
  | { userId: undefined; refusal: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// Cc (C0, DEL, C1), Cf (zero-width and bidi characters, BOM), Zl and Zp (line and paragraph separators).
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * Reads `x-user-id`. Node hands a header's bytes over one character per byte
 * (Latin-1); they are read back as the UTF-8 the client sent, strictly: an
 * invalid sequence (a lone surrogate's encoding among them) is refused, not
 * replaced. Accepted: one header, 1–128 characters, no whitespace at either
 * end (any Unicode space, U+00A0 too; HTTP itself drops spaces and tabs
 * around a header value), no control, format or separator character.
 */
export function readCallerIdentity(req: IncomingMessage): CallerIdentity {
  const values = req.headersDistinct['x-user-id'];
  if (values === undefined) return { userId: undefined, refusal: undefined };
  const refused = (problem: string) => ({
    userId: undefined,
    refusal: `x-user-id ${problem}: ${USER_ID_RULE}`,
  });
  if (values.length !== 1) return refused(`was sent ${values.length} times; send it once`);
  let userId: string;
  try {
    userId = utf8.decode(Buffer.from(values[0]!, 'latin1'));
  } catch {
    return refused('is not well-formed UTF-8');
  }
  const length = [...userId].length;
  if (length === 0) return refused('is empty');
  if (length > MAX_USER_ID_LENGTH) return refused(`is ${length} characters long`);
  if (/^\s|\s$/u.test(userId)) {
    const at = /^\s/u.test(userId) ? 'starts' : 'ends';
    return refused(`${at} with whitespace`);
  }
  const invisible = INVISIBLE.exec(userId);
  if (invisible) {
    const code = invisible[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    return refused(`holds the control or format character U+${code}`);
  }
  return { userId, refusal: undefined };
}
