/** Start-time rules for JWT verification keys (pure; shared by config validation and the authenticator). */

/** RFC 7518 section 3.2: an HS256 key must be at least as long as the hash (256 bits). */
export const MIN_HS256_SECRET_BYTES = 32;
/** NIST SP 800-131A: RSA keys below 2048 bits are not acceptable for signatures. */
export const MIN_RSA_BITS = 2048;

/** Null when the HS256 secret is usable, else why not (never quotes the secret). */
export function hs256SecretProblem(secret: string): string | null {
  if (secret === '') return 'an HS256 secret is required';
  const n = Buffer.byteLength(secret, 'utf8');
  return n < MIN_HS256_SECRET_BYTES
    ? `an HS256 secret needs at least ${MIN_HS256_SECRET_BYTES} bytes (got ${n}); e.g. openssl rand -base64 48`
    : null;
}
