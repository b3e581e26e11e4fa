/**
 * What an openid may contain (docs/protocol.md section 4.2). The openid travels into
 * log lines, NATS headers and KV keys, metrics labels and admin pages: a control
 * character can forge or split a log line or break a header (CR/LF made cross-node
 * forwarding fail), and a bidi control makes one user's id display as another's.
 * Pure: no I/O.
 */

export const MAX_OPENID_BYTES = 128;

/**
 * C0 (U+0000–U+001F), DEL and C1 (U+007F–U+009F), the Unicode line/paragraph
 * separators (U+2028, U+2029: line breaks for JavaScript and many log viewers), and the
 * bidi controls: ALM U+061C, LRM/RLM U+200E–U+200F, LRE/RLE/PDF/LRO/RLO U+202A–U+202E,
 * LRI/RLI/FSI/PDI U+2066–U+2069.
 */
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** The first forbidden character as "U+XXXX", or null. */
export function forbiddenOpenidChar(openid: string): string | null {
  const m = FORBIDDEN.exec(openid);
  if (!m) return null;
  return `U+${m[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Null when the openid is acceptable, else the reason (safe to log and to send: it
 * names the character by code point and never echoes the openid).
 */
export function validateOpenid(openid: string): string | null {
  if (!openid) return 'openid is required';
  if (Buffer.byteLength(openid, 'utf8') > MAX_OPENID_BYTES)
    return `openid longer than ${MAX_OPENID_BYTES} bytes`;
  const bad = forbiddenOpenidChar(openid);
  if (bad) return `openid contains a control or bidi character (${bad})`;
  return null;
}
