/**
 * START authentication (PROTOCOL.md section 4.2): none, HS256 JWT with
 * `sub` = openid and a required `exp` (30 s leeway), or a custom authenticator.
 * Tokens are never logged; failures carry a reason safe to log and to send.
 */
import { errors, jwtVerify } from 'jose';

export type AuthResult = { ok: true } | { ok: false; reason: string };

export interface Authenticator {
  readonly mode: string;
  verify(openid: string, token: string): Promise<AuthResult> | AuthResult;
}

export const MAX_OPENID_BYTES = 128;

export const noAuth: Authenticator = { mode: 'none', verify: () => ({ ok: true }) };

export function jwtAuthenticator(secret: string, leewaySeconds = 30): Authenticator {
  if (!secret) throw new Error('jwt authenticator needs a secret');
  const key = new TextEncoder().encode(secret);
  return {
    mode: 'jwt',
    async verify(openid, token) {
      if (!token) return { ok: false, reason: 'missing auth_token' };
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          clockTolerance: leewaySeconds,
          requiredClaims: ['exp', 'sub'],
        });
        if (payload.sub !== openid) return { ok: false, reason: 'token subject does not match openid' };
        return { ok: true };
      } catch (err) {
        if (err instanceof errors.JWTExpired) return { ok: false, reason: 'token expired' };
        if (err instanceof errors.JWSSignatureVerificationFailed) return { ok: false, reason: 'bad token signature' };
        if (err instanceof errors.JOSEAlgNotAllowed) return { ok: false, reason: 'token algorithm not allowed' };
        if (err instanceof errors.JWTClaimValidationFailed) return { ok: false, reason: `token claim invalid: ${err.claim}` };
        return { ok: false, reason: 'malformed token' };
      }
    },
  };
}

/** Checks that do not depend on the authenticator. */
export function validateOpenid(openid: string): string | null {
  if (!openid) return 'openid is required';
  if (Buffer.byteLength(openid, 'utf8') > MAX_OPENID_BYTES) return `openid longer than ${MAX_OPENID_BYTES} bytes`;
  return null;
}
