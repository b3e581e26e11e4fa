// The JWT verification key of auth.mode jwt, read at start: the HS256 secret, a PEM
// public key (RS256 or ES256, from its type), or a JWKS file (several keys during a
// rotation, re-read when it changes). Private or symmetric material in the key files
// is refused: the gateway only ever needs to verify. Throws ConfigError (one line,
// names the key).

import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { type Stats, unwatchFile, watchFile } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createLocalJWKSet, type JSONWebKeySet, type JWK } from 'jose';
import type { Logger } from '../actors/ports.js';
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

/** Reads and checks a JWKS file: RSA (>= 2048 bits) and EC P-256 public signing keys only. */
async function readJwks(file: string): Promise<JSONWebKeySet> {
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
  }
  return set;
}

/** How often the JWKS file is checked for changes. */
export const JWKS_POLL_MS = 2_000;

/**
 * The JWKS key set, re-read when the file changes (a rotation needs no restart). A
 * changed file that fails the checks is logged and ignored: the previous keys stay.
 * Every key in any version is an RSA or EC P-256 public key, so RS256 and ES256 are
 * the only algorithms ever accepted; jose matches a key to the token's alg by type.
 */
async function watchedJwks(file: string, logger?: Logger): Promise<LoadedJwtKey> {
  let current = createLocalJWKSet(await readJwks(file));
  let version = 0;
  const onChange = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size) return;
    const mine = ++version;
    readJwks(file).then(
      (set) => {
        if (mine !== version) return; // a newer change is being read
        current = createLocalJWKSet(set);
        logger?.info({ file, keys: set.keys.length }, 'jwks reloaded');
      },
      (err: unknown) => logger?.warn({ file, err }, 'jwks reload refused; keeping the previous keys'),
    );
  };
  watchFile(file, { interval: JWKS_POLL_MS, persistent: false }, onChange);
  return {
    key: { kind: 'jwks', keys: (header, token) => current(header, token), algs: ['RS256', 'ES256'] },
    close: () => unwatchFile(file, onChange),
  };
}

export interface LoadedJwtKey {
  key: JwtKey;
  /** Stops watching the key file (JWKS). */
  close(): void;
}

/** The verification key for cfg.auth (mode jwt). Throws ConfigError. */
export async function loadJwtKey(auth: AuthConfig, logger?: Logger): Promise<LoadedJwtKey> {
  const fixed = (key: JwtKey): LoadedJwtKey => ({ key, close: () => {} });
  if (auth.jwtPublicKeyFile !== '') return fixed(await publicKeyFile(auth.jwtPublicKeyFile));
  if (auth.jwksFile !== '') return watchedJwks(auth.jwksFile, logger);
  const problem = hs256SecretProblem(auth.jwtSecret);
  if (problem) bad('auth.jwt_secret', problem);
  return fixed({ kind: 'hmac', secret: new TextEncoder().encode(auth.jwtSecret) });
}

export function jwtPolicyOf(auth: AuthConfig): JwtPolicy {
  return {
    audience: auth.jwtAudience || undefined,
    issuer: auth.jwtIssuer || undefined,
    maxLifetimeSec: Math.floor(auth.jwtMaxLifetimeMs / 1000),
  };
}
