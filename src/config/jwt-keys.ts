// The JWT verification key of auth.mode jwt, read at start: the HS256 secret, a PEM
// public key (RS256 or ES256, from its type), or a JWKS file (several keys during a
// rotation). Private or symmetric material in the key files is refused: the gateway
// only ever needs to verify. Throws ConfigError (one line, names the key).

import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import type { AsymmetricAlg, JwtKey, JwtPolicy } from '../auth/authenticator.js';
import { hs256SecretProblem, MIN_RSA_BITS } from '../auth/key-rules.js';
import { ConfigError } from './load.js';
import type { AuthConfig } from './schema.js';

function bad(key: string, problem: string): never {
  throw new ConfigError(`config: ${key}: ${problem}`, key);
}

async function readText(key: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return bad(key, `cannot read ${JSON.stringify(file)}${code ? ` (${code})` : ''}`);
  }
}

/** RS256 for RSA of at least 2048 bits, ES256 for EC P-256; anything else is refused. */
function algOf(key: KeyObject): AsymmetricAlg | string {
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d.modulusLength ?? 0;
    return bits >= MIN_RSA_BITS ? 'RS256' : `an RSA key of ${bits} bits (at least ${MIN_RSA_BITS} needed)`;
  }
  if (key.asymmetricKeyType === 'ec' && d.namedCurve === 'prime256v1') return 'ES256';
  const what =
    key.asymmetricKeyType === 'ec' ? `an EC key on ${d.namedCurve}` : `a ${key.asymmetricKeyType} key`;
  return `${what} (use RSA >= ${MIN_RSA_BITS} bits for RS256 or EC P-256 for ES256)`;
}

const isAlg = (v: string): v is AsymmetricAlg => v === 'RS256' || v === 'ES256';

async function publicKeyFile(file: string): Promise<JwtKey> {
  const k = 'auth.jwt_public_key_file';
  const pem = await readText(k, file);
  if (pem.includes('PRIVATE KEY')) bad(k, 'holds a private key; give the gateway only the public key');
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    return bad(k, `${JSON.stringify(file)} is not a PEM public key or certificate`);
  }
  const alg = algOf(key);
  if (!isAlg(alg)) return bad(k, `${JSON.stringify(file)} holds ${alg}`);
  return { kind: 'public', key, alg };
}

async function jwksFile(file: string): Promise<JwtKey> {
  const k = 'auth.jwks_file';
  let set: JSONWebKeySet;
  try {
    set = JSON.parse(await readText(k, file)) as JSONWebKeySet;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return bad(k, `${JSON.stringify(file)} is not JSON`);
  }
  if (!set || !Array.isArray(set.keys) || set.keys.length === 0)
    bad(k, `${JSON.stringify(file)} has no "keys" list`);
  const algs = new Set<AsymmetricAlg>();
  for (const [i, jwk] of (set.keys as JWK[]).entries()) {
    const where = `key ${i + 1}${jwk.kid ? ` (kid ${JSON.stringify(jwk.kid)})` : ''}`;
    if (jwk.kty === 'oct' || 'k' in jwk) bad(k, `${where} is a symmetric key; only RSA and EC public keys`);
    if ('d' in jwk) bad(k, `${where} holds a private key; give the gateway only the public key`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch {
      bad(k, `${where} is not a valid public JWK`);
    }
    const alg = algOf(key);
    if (!isAlg(alg)) bad(k, `${where} is ${alg}`);
    if (jwk.alg !== undefined && jwk.alg !== alg) bad(k, `${where} says alg ${jwk.alg} but is an ${alg} key`);
    if (jwk.use !== undefined && jwk.use !== 'sig') bad(k, `${where} has use ${JSON.stringify(jwk.use)}`);
    algs.add(alg);
  }
  return { kind: 'jwks', keys: createLocalJWKSet(set), algs: [...algs] };
}

/** The verification key for cfg.auth (mode jwt). */
export async function loadJwtKey(auth: AuthConfig): Promise<JwtKey> {
  if (auth.jwtPublicKeyFile !== '') return publicKeyFile(auth.jwtPublicKeyFile);
  if (auth.jwksFile !== '') return jwksFile(auth.jwksFile);
  const problem = hs256SecretProblem(auth.jwtSecret);
  if (problem) bad('auth.jwt_secret', problem);
  return { kind: 'hmac', secret: new TextEncoder().encode(auth.jwtSecret) };
}

export function jwtPolicyOf(auth: AuthConfig): JwtPolicy {
  return {
    audience: auth.jwtAudience || undefined,
    issuer: auth.jwtIssuer || undefined,
    maxLifetimeSec: Math.floor(auth.jwtMaxLifetimeMs / 1000),
  };
}
