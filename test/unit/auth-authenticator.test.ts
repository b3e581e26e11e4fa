import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { createLocalJWKSet, exportJWK, SignJWT } from 'jose';
import {
  AuthConfigError,
  checkTokenTimes,
  guardAuthenticator,
  jwtAuthenticator,
  MAX_OPENID_BYTES,
  noAuth,
  validateOpenid,
} from '../../src/auth/authenticator.js';

const SECRET = 'unit-test-secret-0123456789-abcdef';
const key = new TextEncoder().encode(SECRET);
const nowSec = () => Math.floor(Date.now() / 1000);

function sign(claims: Record<string, unknown>, alg = 'HS256', k: Uint8Array = key): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg }).sign(k);
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

/** A token built by hand (alg none and friends). */
function rawToken(header: object, payload: object, sig = ''): string {
  return `${b64(header)}.${b64(payload)}.${sig}`;
}

describe('jwtAuthenticator (HS256)', () => {
  const auth = jwtAuthenticator(SECRET);

  it('accepts a good token whose sub is the openid', async () => {
    const t = await sign({ sub: 'alice', exp: nowSec() + 60 });
    assert.deepEqual(await auth.verify('alice', t), { ok: true });
  });

  it('refuses an expired token, with 30 s of leeway', async () => {
    const old = await sign({ sub: 'alice', exp: nowSec() - 120 });
    assert.deepEqual(await auth.verify('alice', old), { ok: false, reason: 'token expired' });
    const justExpired = await sign({ sub: 'alice', exp: nowSec() - 10 });
    assert.deepEqual(await auth.verify('alice', justExpired), { ok: true });
  });

  it('refuses a wrong signature', async () => {
    const t = await sign(
      { sub: 'alice', exp: nowSec() + 60 },
      'HS256',
      new TextEncoder().encode('another-secret-xxxxxxxx'),
    );
    assert.deepEqual(await auth.verify('alice', t), { ok: false, reason: 'bad token signature' });
  });

  it('refuses a token for another subject', async () => {
    const t = await sign({ sub: 'bob', exp: nowSec() + 60 });
    assert.deepEqual(await auth.verify('alice', t), {
      ok: false,
      reason: 'token subject does not match openid',
    });
  });

  it('requires exp and sub', async () => {
    const noExp = await sign({ sub: 'alice' });
    assert.equal((await auth.verify('alice', noExp)).ok, false);
    const noSub = await sign({ exp: nowSec() + 60 });
    assert.equal((await auth.verify('alice', noSub)).ok, false);
  });

  it('refuses alg none, HS512 and a forged HS256 header over another alg', async () => {
    const none = rawToken({ alg: 'none', typ: 'JWT' }, { sub: 'alice', exp: nowSec() + 60 });
    const r1 = await auth.verify('alice', none);
    assert.equal(r1.ok, false);
    const noneSigned = rawToken({ alg: 'none' }, { sub: 'alice', exp: nowSec() + 60 }, 'AAAA');
    assert.equal((await auth.verify('alice', noneSigned)).ok, false);
    const hs512 = await sign({ sub: 'alice', exp: nowSec() + 60 }, 'HS512');
    assert.deepEqual(await auth.verify('alice', hs512), { ok: false, reason: 'token algorithm not allowed' });
    // Header says HS256 but the signature is HS512 over the same input.
    const h = b64({ alg: 'HS256' });
    const p = b64({ sub: 'alice', exp: nowSec() + 60 });
    const sig = createHmac('sha512', SECRET).update(`${h}.${p}`).digest('base64url');
    assert.equal((await auth.verify('alice', `${h}.${p}.${sig}`)).ok, false);
    // And the right HS256 signature by hand is accepted (the helper above is sound).
    const ok = createHmac('sha256', SECRET).update(`${h}.${p}`).digest('base64url');
    assert.equal((await auth.verify('alice', `${h}.${p}.${ok}`)).ok, true);
  });

  it('refuses missing, malformed and oversized tokens without throwing', async () => {
    assert.deepEqual(await auth.verify('alice', ''), { ok: false, reason: 'missing auth_token' });
    for (const t of ['x', 'a.b.c', '...', 'ey.ey.ey', '\u0000\u0001', 'é.é.é']) {
      const r = await auth.verify('alice', t);
      assert.equal(r.ok, false, t);
    }
    assert.deepEqual(await auth.verify('alice', 'a'.repeat(100_000)), {
      ok: false,
      reason: 'token too long',
    });
  });

  it('never puts the token in a reason', async () => {
    const tokens = [
      await sign({ sub: 'bob', exp: nowSec() + 60 }),
      await sign({ sub: 'alice', exp: nowSec() - 600 }),
      rawToken({ alg: 'none' }, { sub: 'alice' }),
      'garbage-token-value',
    ];
    for (const t of tokens) {
      const r = await auth.verify('alice', t);
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(!r.reason.includes(t));
    }
  });

  it('needs a secret of at least 32 bytes', () => {
    assert.throws(() => jwtAuthenticator(''), AuthConfigError);
    assert.throws(() => jwtAuthenticator('x'), /at least 32 bytes/);
    assert.throws(() => jwtAuthenticator('s'.repeat(31)), AuthConfigError);
    assert.equal(jwtAuthenticator('s'.repeat(32)).mode, 'jwt');
  });

  it('refuses an iat beyond the leeway in the future', async () => {
    const future = await sign({ sub: 'alice', iat: nowSec() + 365 * 86_400, exp: nowSec() + 366 * 86_400 });
    assert.deepEqual(await jwtAuthenticator(SECRET, { maxLifetimeSec: 0 }).verify('alice', future), {
      ok: false,
      reason: 'token claim invalid: iat (in the future)',
    });
    const skewed = await sign({ sub: 'alice', iat: nowSec() + 10, exp: nowSec() + 60 });
    assert.deepEqual(await auth.verify('alice', skewed), { ok: true });
  });
});

describe('jwtAuthenticator policy', () => {
  const strict = jwtAuthenticator(SECRET, {
    audience: 'game',
    issuer: 'https://login.example',
    maxLifetimeSec: 3600,
  });
  const good = { sub: 'alice', aud: 'game', iss: 'https://login.example' };

  it('requires the configured aud and iss', async () => {
    assert.deepEqual(await strict.verify('alice', await sign({ ...good, exp: nowSec() + 60 })), { ok: true });
    const multi = await sign({ ...good, aud: ['other', 'game'], exp: nowSec() + 60 });
    assert.deepEqual(await strict.verify('alice', multi), { ok: true });
    for (const [claims, claim] of [
      [{ ...good, aud: 'other' }, 'aud'],
      [{ sub: 'alice', iss: good.iss }, 'aud'],
      [{ ...good, iss: 'https://evil.example' }, 'iss'],
      [{ sub: 'alice', aud: 'game' }, 'iss'],
    ] as const) {
      const r = await strict.verify('alice', await sign({ ...claims, exp: nowSec() + 60 }));
      assert.deepEqual(r, { ok: false, reason: `token claim invalid: ${claim}` }, JSON.stringify(claims));
    }
  });

  it('bounds the lifetime: exp - iat, or exp - now without iat', async () => {
    const now = nowSec();
    assert.equal((await strict.verify('alice', await sign({ ...good, iat: now, exp: now + 3600 }))).ok, true);
    const long = await sign({ ...good, iat: now, exp: now + 3601 });
    assert.deepEqual(await strict.verify('alice', long), {
      ok: false,
      reason: 'token lifetime above the allowed maximum',
    });
    const y2999 = await sign({ ...good, exp: Date.UTC(2999, 0, 1) / 1000 });
    assert.equal((await strict.verify('alice', y2999)).ok, false);
    // An old iat with a near exp is still a long-lived token.
    const backdated = await sign({ ...good, iat: now - 86_400, exp: now + 60 });
    assert.equal((await strict.verify('alice', backdated)).ok, false);
  });

  it('checkTokenTimes is pure and uses the leeway', () => {
    const p = { leewaySec: 30, maxLifetimeSec: 100 };
    assert.equal(checkTokenTimes({ iat: 1030, exp: 1100 }, 1000, p), null);
    assert.match(checkTokenTimes({ iat: 1031, exp: 1100 }, 1000, p) ?? '', /iat/);
    assert.equal(checkTokenTimes({ exp: 1100 }, 1000, p), null);
    assert.match(checkTokenTimes({ exp: 1101 }, 1000, p) ?? '', /lifetime/);
    assert.equal(checkTokenTimes({ exp: 10_000_000 }, 1000, { maxLifetimeSec: 0 }), null);
  });
});

describe('guardAuthenticator', () => {
  it('turns a throw into a refusal and redacts the token', async () => {
    const token = 'secret-token-abcdef';
    const g = guardAuthenticator({
      mode: 'custom',
      verify: (_o, t) => {
        throw new Error(`cannot check ${t}`);
      },
    });
    const r = await g.verify('alice', token);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.ok(!r.reason.includes(token));
      assert.match(r.reason, /\[redacted\]/);
    }
    const g2 = guardAuthenticator({
      mode: 'custom',
      verify: async (_o, t) => ({ ok: false, reason: `bad ${t}` }),
    });
    const r2 = await g2.verify('alice', token);
    assert.ok(!r2.ok && !r2.reason.includes(token));
    assert.deepEqual(await guardAuthenticator(noAuth).verify('a', ''), { ok: true });
  });
});

describe('validateOpenid', () => {
  it('requires 1..128 bytes of UTF-8', () => {
    assert.notEqual(validateOpenid(''), null);
    assert.equal(validateOpenid('a'.repeat(MAX_OPENID_BYTES)), null);
    assert.notEqual(validateOpenid('a'.repeat(MAX_OPENID_BYTES + 1)), null);
    assert.notEqual(validateOpenid('é'.repeat(65)), null); // 130 bytes, 65 chars
  });
});

describe('jwtAuthenticator with a JWKS', () => {
  it('a token without kid is checked against every key of its type (rotation)', async () => {
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const c = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keys = [
      { ...(await exportJWK(a.publicKey)), kid: 'k1' },
      { ...(await exportJWK(b.publicKey)), kid: 'k2' },
    ];
    const auth = jwtAuthenticator({ kind: 'jwks', keys: createLocalJWKSet({ keys }), algs: ['ES256'] });
    const es = (k: KeyObject, claims: Record<string, unknown>) =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256' }).sign(k);
    assert.deepEqual(
      await auth.verify('alice', await es(b.privateKey, { sub: 'alice', exp: nowSec() + 60 })),
      {
        ok: true,
      },
    );
    assert.deepEqual(
      await auth.verify('alice', await es(a.privateKey, { sub: 'alice', exp: nowSec() + 60 })),
      {
        ok: true,
      },
    );
    assert.deepEqual(
      await auth.verify('alice', await es(c.privateKey, { sub: 'alice', exp: nowSec() + 60 })),
      {
        ok: false,
        reason: 'bad token signature',
      },
    );
    // A valid signature with a bad claim reports the claim, not the signature.
    assert.deepEqual(
      await auth.verify('alice', await es(b.privateKey, { sub: 'alice', exp: nowSec() - 600 })),
      {
        ok: false,
        reason: 'token expired',
      },
    );
  });
});
