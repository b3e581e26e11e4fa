/**
 * START authentication over real QUIC (docs/protocol.md section 4.2): HS256 JWT with
 * sub = openid and exp; failures answer START_RESP success=false + ERROR 401 and
 * close 0x02; a resume needs a valid token too; tokens never reach the log. Hardening
 * (section 8): aud/iss when configured, no iat in the future, a bounded lifetime,
 * RS256 via a public key file and ES256 via a JWKS file, with no algorithm confusion.
 */
import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { exportJWK, SignJWT } from 'jose';
import pino from 'pino';
import { GateClient } from '../../src/client/gate-client.js';
import { GateError } from '../../src/errors.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { CloseCode, ErrorCode, PushType } from '../../src/protocol/codes.js';
import { StartResponse } from '../../src/protocol/messages.js';
import { connectClient, login, startTestGateway, testConfig, waitFor } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';

const SECRET = 'integration-secret-4f1b8c2d9e-7a6b5c4d';
const key = new TextEncoder().encode(SECRET);
const nowSec = () => Math.floor(Date.now() / 1000);
const sign = (claims: Record<string, unknown>, alg = 'HS256', k = key) =>
  new SignJWT(claims).setProtectedHeader({ alg }).sign(k);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

const logLines: string[] = [];
const usedTokens: string[] = [];
let gw: Gateway;

before(async () => {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(String(chunk));
      cb();
    },
  });
  const cfg = testConfig({ auth: { mode: 'jwt', jwtSecret: SECRET } });
  // trace: every log line the gateway can write is captured.
  gw = await startGateway(cfg, { logger: pino({ level: 'trace' }, sink) });
});
after(() => gw.close());

/** START over a raw connection: the START_RESP and the close the gateway sent. */
async function rawStart(openid: string, token: string, g: Gateway = gw) {
  usedTokens.push(token);
  const c = await RawClient.connect(g);
  c.start(openid, { authToken: token });
  const resp = await c.nextWhere((p) => p.type === PushType.START_RESP);
  const body = StartResponse.decode(resp.payload);
  if (body.success) {
    c.close();
    return { body, close: null };
  }
  return { body, close: await c.closed() };
}

async function refused(openid: string, token: string, reason: RegExp, g: Gateway = gw) {
  const { body, close } = await rawStart(openid, token, g);
  assert.equal(body.success, false);
  assert.equal(body.error?.errorCode, ErrorCode.UNAUTHENTICATED);
  assert.match(body.error?.errorMessage ?? '', reason);
  assert.ok(close);
  assert.equal(close.code, CloseCode.UNAUTHENTICATED);
  assert.equal(close.isApp, true);
  assert.equal(close.byPeer, true);
}

describe('JWT authentication over QUIC', () => {
  it('a good token starts a session', async () => {
    const token = await sign({ sub: 'alice', exp: nowSec() + 300 });
    usedTokens.push(token);
    const c = await connectClient(gw, 'alice', { authToken: token });
    await login(c);
    assert.equal((await c.request('echo', {}, Buffer.from('hi'))).code, 0);
    c.close();
  });

  it('expired -> 401 + close 0x02', async () => {
    await refused('bob', await sign({ sub: 'bob', exp: nowSec() - 300 }), /expired/);
  });

  it('wrong signature -> 401 + close 0x02', async () => {
    await refused(
      'bob',
      await sign({ sub: 'bob', exp: nowSec() + 300 }, 'HS256', new TextEncoder().encode('nope-nope-nope')),
      /signature/,
    );
  });

  it('wrong subject -> 401 + close 0x02', async () => {
    await refused('bob', await sign({ sub: 'mallory', exp: nowSec() + 300 }), /subject/);
  });

  it('alg none and HS512 -> 401 + close 0x02', async () => {
    await refused(
      'bob',
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'bob', exp: nowSec() + 300 })}.`,
      /./,
    );
    await refused('bob', await sign({ sub: 'bob', exp: nowSec() + 300 }, 'HS512'), /algorithm/);
    const h = b64({ alg: 'HS256' });
    const p = b64({ sub: 'bob', exp: nowSec() + 300 });
    const forged = createHmac('sha512', SECRET).update(`${h}.${p}`).digest('base64url');
    await refused('bob', `${h}.${p}.${forged}`, /./);
  });

  it('missing token and missing exp -> 401 + close 0x02', async () => {
    await refused('bob', '', /missing/);
    await refused('bob', await sign({ sub: 'bob' }), /exp/);
  });

  it('an openid over 128 bytes -> 401 + close 0x02', async () => {
    const long = 'x'.repeat(129);
    await refused(long, await sign({ sub: long, exp: nowSec() + 300 }), /128/);
  });

  it('a resume needs a valid token too', async () => {
    const good = await sign({ sub: 'carol', exp: nowSec() + 300 });
    usedTokens.push(good);
    const c = await connectClient(gw, 'carol', { authToken: good });
    await login(c);
    const sessionId = c.sessionId;
    c.close();
    await refused('carol', await sign({ sub: 'carol', exp: nowSec() - 300 }), /expired/);
    await refused(
      'carol',
      await sign({ sub: 'carol', exp: nowSec() + 300 }, 'HS256', new TextEncoder().encode('x'.repeat(20))),
      /signature/,
    );
    // The session survived the refused attempts and resumes with a good token.
    const again = await GateClient.connect({
      host: '127.0.0.1',
      port: gw.addresses.quic.port,
      openid: 'carol',
      authToken: good,
      caPem: gw.tls.certPem,
      serverName: 'localhost',
      heartbeat: false,
    });
    assert.equal(again.resumed, true);
    assert.equal(again.sessionId, sessionId);
    again.close();
  });

  it('the SDK surfaces a refusal as GateError 401', async () => {
    const token = await sign({ sub: 'dave', exp: nowSec() - 300 });
    usedTokens.push(token);
    await assert.rejects(connectClient(gw, 'dave', { authToken: token }), (err: unknown) => {
      assert.ok(err instanceof GateError);
      assert.equal(err.code, ErrorCode.UNAUTHENTICATED);
      return true;
    });
  });

  it('no token ever appears in the log', () => {
    const log = logLines.join('');
    assert.ok(logLines.length > 10, 'the log was captured');
    assert.ok(log.includes('authentication failed'));
    for (const t of usedTokens) {
      if (t.length < 8) continue;
      assert.ok(!log.includes(t), 'a token was logged');
      // Not even its signature part.
      const sig = t.split('.')[2];
      if (sig && sig.length >= 16) assert.ok(!log.includes(sig), 'a token signature was logged');
    }
  });
});

describe('pluggable authenticator', () => {
  it('GatewayOptions.authenticator decides; a throwing one refuses without leaking the token', async () => {
    const g = await startTestGateway(
      {},
      {
        authenticator: {
          mode: 'custom',
          verify: (openid, token) => {
            if (token === 'let-me-in') return { ok: true };
            if (token === 'explode-now') throw new Error(`backend down while checking ${token}`);
            return { ok: false, reason: `no such user ${openid}` };
          },
        },
      },
    );
    try {
      const ok = await connectClient(g, 'eve', { authToken: 'let-me-in' });
      ok.close();
      await assert.rejects(connectClient(g, 'eve', { authToken: 'wrong' }), (e: unknown) => {
        assert.ok(
          e instanceof GateError && e.code === ErrorCode.UNAUTHENTICATED && /no such user/.test(e.message),
        );
        return true;
      });
      await assert.rejects(connectClient(g, 'eve', { authToken: 'explode-now' }), (e: unknown) => {
        assert.ok(e instanceof GateError && e.code === ErrorCode.UNAUTHENTICATED);
        assert.ok(!e.message.includes('explode-now'), e.message);
        return true;
      });
    } finally {
      await g.close();
    }
  });
});

/** START succeeds (START_RESP success = true). */
async function accepted(openid: string, token: string, g: Gateway = gw) {
  const { body } = await rawStart(openid, token, g);
  assert.equal(body.success, true, body.error?.errorMessage);
}

describe('JWT claims hardening', () => {
  const AUD = 'gatesvr-test';
  const ISS = 'https://login.test';
  let strict: Gateway;
  before(async () => {
    strict = await startTestGateway({
      auth: { mode: 'jwt', jwtSecret: SECRET, jwtAudience: AUD, jwtIssuer: ISS, jwtMaxLifetimeMs: 3_600_000 },
    });
  });
  after(() => strict.close());
  const good = (extra: Record<string, unknown> = {}) =>
    sign({ sub: 'frank', aud: AUD, iss: ISS, iat: nowSec(), exp: nowSec() + 600, ...extra });

  it('the right aud and iss within the lifetime are accepted', async () => {
    await accepted('frank', await good(), strict);
    await accepted('frank', await good({ aud: ['other', AUD] }), strict);
  });

  it('a wrong or missing aud -> 401 + close 0x02', async () => {
    await refused('frank', await good({ aud: 'another-service' }), /aud/, strict);
    await refused('frank', await good({ aud: undefined }), /aud/, strict);
  });

  it('a wrong or missing iss -> 401 + close 0x02', async () => {
    await refused('frank', await good({ iss: 'https://evil.test' }), /iss/, strict);
    await refused('frank', await good({ iss: undefined }), /iss/, strict);
  });

  it('exp - iat above jwt_max_lifetime (or exp - now without iat) -> 401', async () => {
    await refused('frank', await good({ exp: nowSec() + 3_600 + 120 }), /lifetime/, strict);
    await refused('frank', await good({ iat: undefined, exp: nowSec() + 7_200 }), /lifetime/, strict);
  });

  it('default gateway: exp in 2999 and iat a year in the future -> 401', async () => {
    // The default jwt_max_lifetime is 24 h.
    await refused('bob', await sign({ sub: 'bob', exp: Date.UTC(2999, 0, 1) / 1000 }), /lifetime/);
    await refused(
      'bob',
      await sign({ sub: 'bob', iat: nowSec() - 60, exp: nowSec() + 25 * 3600 }),
      /lifetime/,
    );
    const inAYear = nowSec() + 365 * 86_400;
    await refused('bob', await sign({ sub: 'bob', iat: inAYear, exp: inAYear + 600 }), /iat/);
    await refused('bob', await sign({ sub: 'bob', iat: nowSec() + 3_600, exp: nowSec() + 7_200 }), /iat/);
    // Within the leeway is fine.
    await accepted('bob', await sign({ sub: 'bob', iat: nowSec() + 5, exp: nowSec() + 600 }));
  });
});

describe('RS256 and ES256 keys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatesvr-jwt-keys-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const signWith = (k: KeyObject, alg: string, kid?: string, claims: Record<string, unknown> = {}) =>
    new SignJWT({ sub: 'grace', exp: nowSec() + 300, ...claims })
      .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
      .sign(k);
  let rsGw: Gateway;
  let esGw: Gateway;

  before(async () => {
    const pemFile = join(dir, 'rs256.pem');
    writeFileSync(pemFile, rsaPem);
    const jwksFile = join(dir, 'jwks.json');
    // Two keys: the current one and the next one of a rotation.
    const keys = [
      { ...(await exportJWK(ec1.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(ec2.publicKey)), kid: 'k2' },
    ];
    writeFileSync(jwksFile, JSON.stringify({ keys }));
    rsGw = await startTestGateway({ auth: { mode: 'jwt', jwtSecret: '', jwtPublicKeyFile: pemFile } });
    esGw = await startTestGateway({ auth: { mode: 'jwt', jwtSecret: '', jwksFile } });
  });
  after(async () => {
    await Promise.all([rsGw?.close(), esGw?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('RS256 signed by the configured key is accepted (public key file)', async () => {
    await accepted('grace', await signWith(rsa.privateKey, 'RS256'), rsGw);
  });

  it('RS256 gateway: an HS256 token keyed with the public key, or another key, -> 401', async () => {
    // Algorithm confusion: HMAC with the (public) PEM bytes as the secret.
    const confused = await sign(
      { sub: 'grace', exp: nowSec() + 300 },
      'HS256',
      new TextEncoder().encode(rsaPem),
    );
    await refused('grace', confused, /algorithm/, rsGw);
    const hs = await sign({ sub: 'grace', exp: nowSec() + 300 });
    await refused('grace', hs, /algorithm/, rsGw);
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await refused('grace', await signWith(other.privateKey, 'RS256'), /signature/, rsGw);
    await refused('grace', await signWith(ec1.privateKey, 'ES256'), /algorithm/, rsGw);
  });

  it('ES256 via a JWKS with two keys: either kid is accepted; unknown kid and HS256 -> 401', async () => {
    await accepted('grace', await signWith(ec1.privateKey, 'ES256', 'k1'), esGw);
    await accepted('grace', await signWith(ec2.privateKey, 'ES256', 'k2'), esGw);
    await accepted('grace', await signWith(ec2.privateKey, 'ES256'), esGw); // no kid: each key is tried
    await refused('grace', await signWith(ec2.privateKey, 'ES256', 'k1'), /signature/, esGw);
    await refused('grace', await signWith(ec1.privateKey, 'ES256', 'k9'), /no key/, esGw);
    await refused('grace', await sign({ sub: 'grace', exp: nowSec() + 300 }), /algorithm/, esGw);
    // The lifetime rule applies to every algorithm.
    await refused(
      'grace',
      await signWith(ec1.privateKey, 'ES256', 'k1', { exp: nowSec() + 30 * 86_400 }),
      /lifetime/,
      esGw,
    );
  });
});

describe('JWKS rotation without a restart', () => {
  it('a changed JWKS file is re-read; an invalid one is refused and the previous keys stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatesvr-jwks-rotate-'));
    const oldKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const newKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = async (k: KeyObject, kid: string) => ({ ...(await exportJWK(k)), kid });
    const file = join(dir, 'jwks.json');
    const write = async (keys: object[]) => writeFileSync(file, JSON.stringify({ keys }));
    await write([await jwk(oldKey.publicKey, 'old')]);
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
        cb();
      },
    });
    const g = await startGateway(testConfig({ auth: { mode: 'jwt', jwtSecret: '', jwksFile: file } }), {
      logger: pino({ level: 'info' }, sink),
    });
    const seen = (msg: string) => lines.filter((l) => l.msg === msg).length;
    const es = (k: KeyObject, kid: string) =>
      new SignJWT({ sub: 'heidi', exp: nowSec() + 300 }).setProtectedHeader({ alg: 'ES256', kid }).sign(k);
    try {
      await accepted('heidi', await es(oldKey.privateKey, 'old'), g);
      await refused('heidi', await es(newKey.privateKey, 'new'), /no key/, g);
      // Step 1 of a rotation: both keys.
      await write([await jwk(oldKey.publicKey, 'old'), await jwk(newKey.publicKey, 'new')]);
      await waitFor(() => seen('jwks reloaded') === 1, 15_000, 'jwks reloaded');
      await accepted('heidi', await es(newKey.privateKey, 'new'), g);
      await accepted('heidi', await es(oldKey.privateKey, 'old'), g);
      // A broken edit (a private key slipped in) changes nothing.
      await write([await jwk(newKey.privateKey, 'new')]);
      await waitFor(
        () => seen('jwks reload refused; keeping the previous keys') === 1,
        15_000,
        'reload refused',
      );
      await accepted('heidi', await es(oldKey.privateKey, 'old'), g);
      // Step 3: the old key leaves.
      await write([await jwk(newKey.publicKey, 'new')]);
      await waitFor(() => seen('jwks reloaded') === 2, 15_000, 'second reload');
      await refused('heidi', await es(oldKey.privateKey, 'old'), /no key/, g);
      await accepted('heidi', await es(newKey.privateKey, 'new'), g);
    } finally {
      await g.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
