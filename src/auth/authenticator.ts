/**
 * START authentication (docs/protocol.md section 4.2): none, a JWT with `sub` =
 * openid and a required `exp` (HS256 with a shared secret by default; RS256/ES256
 * with a public key or a JWKS as an extension), or a custom authenticator.
 * Tokens are never logged; failures carry a reason safe to log and to send.
 */
import type { KeyObject } from 'node:crypto';
import {
  type CryptoKey,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose';
import { CodedError, messageOf } from '../errors.js';
import { hs256SecretProblem } from './key-rules.js';

export { MIN_HS256_SECRET_BYTES } from './key-rules.js';
export { MAX_OPENID_BYTES, validateOpenid } from './openid.js';

export type AuthResult = { ok: true } | { ok: false; reason: string };

export interface Authenticator {
  readonly mode: string;
  verify(openid: string, token: string): Promise<AuthResult> | AuthResult;
}

/** Longer tokens are refused before any parsing (hostile input costs nothing). */
export const MAX_TOKEN_BYTES = 8192;
export const DEFAULT_LEEWAY_SECONDS = 30;

export type AsymmetricAlg = 'RS256' | 'ES256';

/** Where signatures are checked against; each kind admits only its own algorithms. */
export type JwtKey =
  | { kind: 'hmac'; secret: Uint8Array }
  | { kind: 'public'; key: KeyObject; alg: AsymmetricAlg }
  | { kind: 'jwks'; keys: JWTVerifyGetKey; algs: readonly AsymmetricAlg[] };

export interface JwtPolicy {
  /** When set, `aud` must be (or contain) this. */
  audience?: string;
  /** When set, `iss` must equal this. */
  issuer?: string;
  /** Longest accepted exp − iat (exp − now without iat), in seconds; 0 or absent = no limit. */
  maxLifetimeSec?: number;
  /** Clock leeway for exp, nbf and iat, in seconds. */
  leewaySec?: number;
}

export class AuthConfigError extends CodedError<'AUTH_CONFIG'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('AUTH_CONFIG', message, options);
  }
}

export const noAuth: Authenticator = { mode: 'none', verify: () => ({ ok: true }) };

/**
 * The time rules jose leaves to the caller: an `iat` beyond the leeway in the future,
 * and a lifetime (exp − iat, or exp − now when there is no iat) above the maximum.
 * Returns the refusal reason or null. Pure.
 */
export function checkTokenTimes(payload: JWTPayload, nowSec: number, policy: JwtPolicy): string | null {
  const leeway = policy.leewaySec ?? DEFAULT_LEEWAY_SECONDS;
  const iat = typeof payload.iat === 'number' ? payload.iat : undefined;
  if (iat !== undefined && iat > nowSec + leeway) return 'token claim invalid: iat (in the future)';
  const max = policy.maxLifetimeSec ?? 0;
  if (max > 0 && typeof payload.exp === 'number' && payload.exp - (iat ?? nowSec) > max)
    return 'token lifetime above the allowed maximum';
  return null;
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'bad token signature';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'token algorithm not allowed';
  if (err instanceof errors.JWKSNoMatchingKey) return 'no key matches the token';
  if (err instanceof errors.JWTClaimValidationFailed) return `token claim invalid: ${err.claim}`;
  return 'malformed token';
}

/**
 * A token without `kid` matches every key of its type in the set; jose then throws
 * JWKSMultipleMatchingKeys, which iterates them. Each is tried (a set holds two or three
 * keys during a rotation); the first valid signature decides.
 */
async function verifyWithKeySet(token: string, keys: JWTVerifyGetKey, options: JWTVerifyOptions) {
  try {
    return await jwtVerify(token, keys, options);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    let last: unknown = new errors.JWSSignatureVerificationFailed();
    for await (const key of err as unknown as AsyncIterable<CryptoKey>) {
      try {
        return await jwtVerify(token, key, options);
      } catch (e) {
        if (!(e instanceof errors.JWSSignatureVerificationFailed)) throw e;
        last = e;
      }
    }
    throw last;
  }
}

/** A JWT authenticator; a string is an HS256 secret (at least 32 bytes). Throws AuthConfigError. */
export function jwtAuthenticator(key: string | JwtKey, policy: JwtPolicy = {}): Authenticator {
  if (typeof key === 'string') {
    const problem = hs256SecretProblem(key);
    if (problem) throw new AuthConfigError(`jwt authenticator: ${problem}`);
    key = { kind: 'hmac', secret: new TextEncoder().encode(key) };
  }
  const k = key;
  const leeway = policy.leewaySec ?? DEFAULT_LEEWAY_SECONDS;
  const options: JWTVerifyOptions = {
    // The key kind fixes the algorithms: an HS256 token can never be checked
    // against a public key used as an HMAC secret (algorithm confusion).
    algorithms: k.kind === 'hmac' ? ['HS256'] : k.kind === 'public' ? [k.alg] : [...k.algs],
    clockTolerance: leeway,
    requiredClaims: ['exp', 'sub'],
    ...(policy.audience ? { audience: policy.audience } : {}),
    ...(policy.issuer ? { issuer: policy.issuer } : {}),
  };
  const check = (token: string) =>
    k.kind === 'hmac'
      ? jwtVerify(token, k.secret, options)
      : k.kind === 'public'
        ? jwtVerify(token, k.key, options)
        : verifyWithKeySet(token, k.keys, options);
  return {
    mode: 'jwt',
    async verify(openid, token) {
      if (!token) return { ok: false, reason: 'missing auth_token' };
      if (token.length > MAX_TOKEN_BYTES) return { ok: false, reason: 'token too long' };
      let payload: JWTPayload;
      try {
        ({ payload } = await check(token));
      } catch (err) {
        return { ok: false, reason: reasonOf(err) };
      }
      const timing = checkTokenTimes(payload, Math.floor(Date.now() / 1000), policy);
      if (timing) return { ok: false, reason: timing };
      if (payload.sub !== openid) return { ok: false, reason: 'token subject does not match openid' };
      return { ok: true };
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
          reason: clean(`authenticator failed: ${messageOf(err)}`, token),
        };
      }
      if (result && result.ok === true) return { ok: true };
      return { ok: false, reason: clean(result ? result.reason : 'unauthenticated', token) };
    },
  };
}
