/**
 * START authentication (docs/protocol.md section 4.2): none, HS256 JWT with
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
/** Longer tokens are refused before any parsing (hostile input costs nothing). */
export const MAX_TOKEN_BYTES = 8192;

export const noAuth: Authenticator = { mode: 'none', verify: () => ({ ok: true }) };

export function jwtAuthenticator(secret: string, leewaySeconds = 30): Authenticator {
  if (!secret) throw new Error('jwt authenticator needs a secret');
  const key = new TextEncoder().encode(secret);
  return {
    mode: 'jwt',
    async verify(openid, token) {
      if (!token) return { ok: false, reason: 'missing auth_token' };
      if (token.length > MAX_TOKEN_BYTES) return { ok: false, reason: 'token too long' };
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
        if (err instanceof errors.JWSSignatureVerificationFailed)
          return { ok: false, reason: 'bad token signature' };
        if (err instanceof errors.JOSEAlgNotAllowed)
          return { ok: false, reason: 'token algorithm not allowed' };
        if (err instanceof errors.JWTClaimValidationFailed)
          return { ok: false, reason: `token claim invalid: ${err.claim}` };
        return { ok: false, reason: 'malformed token' };
      }
    },
  };
}

/**
 * Wraps a (custom) authenticator so that it can neither throw nor leak the token:
 * a throw becomes a refusal, a reason that quotes the token has it redacted, and a
 * reason is capped in length (it is logged and sent to the client).
 */
export function guardAuthenticator(inner: Authenticator): Authenticator {
  const clean = (reason: string, token: string): string => {
    let r = String(reason || 'unauthenticated');
    if (token.length >= 8) r = r.split(token).join('[redacted]');
    return r.length > 200 ? `${r.slice(0, 200)}...` : r;
  };
  return {
    mode: inner.mode,
    async verify(openid, token) {
      let result: AuthResult;
      try {
        result = await inner.verify(openid, token);
      } catch (err) {
        return {
          ok: false,
          reason: clean(`authenticator failed: ${err instanceof Error ? err.message : String(err)}`, token),
        };
      }
      if (result && result.ok === true) return { ok: true };
      return { ok: false, reason: clean(result ? result.reason : 'unauthenticated', token) };
    },
  };
}

/** Checks that do not depend on the authenticator. */
export function validateOpenid(openid: string): string | null {
  if (!openid) return 'openid is required';
  if (Buffer.byteLength(openid, 'utf8') > MAX_OPENID_BYTES)
    return `openid longer than ${MAX_OPENID_BYTES} bytes`;
  return null;
}
