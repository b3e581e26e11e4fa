/**
 * Bearer-token checks for the gRPC push API: "Bearer <token>" compared in constant
 * time. Both sides are hashed first, so neither the comparison time nor a length
 * check reveals anything about the expected token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/** A predicate that accepts exactly the header value "Bearer <token>". */
export function bearerChecker(token: string): (header: string | undefined) => boolean {
  if (token === '') throw new Error('bearerChecker needs a non-empty token');
  const expected = digest(token);
  return (header) => {
    if (typeof header !== 'string') return false;
    const m = BEARER.exec(header);
    return m !== null && timingSafeEqual(digest(m[1]!), expected);
  };
}

/** The metadata value a client sends for `token`. */
export function bearerHeader(token: string): string {
  return `Bearer ${token}`;
}
