/**
 * Client-auth hardening over real QUIC and real gatesvr processes: openids with
 * control or bidi characters are refused at START (auth none and jwt), pre-START
 * log lines are rate-limited, a short HS256 secret stops the start, `gatesvr token`
 * takes its secret from the environment or a file, and stdout logging neither
 * stalls the gateway when nobody reads it nor loses lines at exit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import pino from 'pino';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { CloseCode, ErrorCode, PushType, RequestType } from '../../src/protocol/codes.js';
import { StartRequest, StartResponse } from '../../src/protocol/messages.js';
import { makeTestCert } from '../helpers/certs.js';
import { startTestGateway, testConfig } from '../helpers/gateway.js';
import { spawnGateway } from '../helpers/gateway-process.js';
import { RawClient } from '../helpers/raw-client.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const SECRET = 'hardening-secret-0123456789abcdef-xyz';
const nowSec = () => Math.floor(Date.now() / 1000);
const hs256 = (claims: Record<string, unknown>) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(SECRET));
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gatesvr-authsec-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** START on a raw connection (openid in StartRequest, or only in the envelope). */
async function startResult(g: Gateway, openid: string, token = '', envelopeOnly = false) {
  const c = await RawClient.connect(g);
  if (envelopeOnly) {
    c.send({
      type: RequestType.START,
      openid,
      payload: StartRequest.encode({ openid: '', authToken: token }),
    });
  } else c.start(openid, { authToken: token });
  const body = StartResponse.decode((await c.nextWhere((p) => p.type === PushType.START_RESP)).payload);
  if (body.success) {
    c.close();
    return { body, close: null };
  }
  return { body, close: await c.closed() };
}

async function refused401(g: Gateway, openid: string, token = '', envelopeOnly = false): Promise<string> {
  const { body, close } = await startResult(g, openid, token, envelopeOnly);
  assert.equal(body.success, false, `${JSON.stringify(openid)} was accepted`);
  assert.equal(body.error?.errorCode, ErrorCode.UNAUTHENTICATED);
  assert.equal(close?.code, CloseCode.UNAUTHENTICATED);
  return body.error?.errorMessage ?? '';
}

const HOSTILE_OPENIDS = [
  'bell\u0007user',
  'nul\u0000user',
  'crlf\r\nNats-Msg-Id: forged',
  'lf\nuser',
  'esc\u001b[31mred',
  'del\u007fuser',
  'c1\u0085user',
  '\u202Eadmin',
  'ab\u200Fc',
  'ab\u200Ec',
  'iso\u2066late\u2069',
  'alm\u061Cx',
];

describe('openids with control or bidi characters -> 401 + close 0x02', () => {
  let none: Gateway;
  let jwt: Gateway;
  before(async () => {
    none = await startTestGateway();
    jwt = await startTestGateway({ auth: { mode: 'jwt', jwtSecret: SECRET } });
  });
  after(() => Promise.all([none.close(), jwt.close()]));

  it('auth mode none: StartRequest.openid and the envelope openid', async () => {
    for (const id of HOSTILE_OPENIDS) {
      assert.match(
        await refused401(none, id),
        /control or bidi character \(U\+[0-9A-F]{4}\)/,
        JSON.stringify(id),
      );
    }
    assert.match(await refused401(none, 'env\r\nelope', '', true), /U\+000D/);
    // Ordinary ids still work, non-ASCII letters included.
    for (const id of ['alice', 'Zoë-用户', 'a b'])
      assert.equal((await startResult(none, id)).body.success, true);
  });

  it('auth mode jwt: a valid token whose sub carries the character', async () => {
    for (const id of ['crlf\r\nx', '\u202Eadmin', 'tab\tuser']) {
      const token = await hs256({ sub: id, exp: nowSec() + 300 });
      assert.match(await refused401(jwt, id, token), /control or bidi/);
    }
    const ok = await hs256({ sub: 'plain', exp: nowSec() + 300 });
    assert.equal((await startResult(jwt, 'plain', ok)).body.success, true);
  });
});

describe('pre-START log lines are rate-limited', () => {
  it('a flood of protocol errors and refused STARTs writes a bounded number of lines and a summary', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n'))
          if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const g = await startGateway(testConfig({ auth: { mode: 'jwt', jwtSecret: SECRET } }), {
      logger: pino({ level: 'info' }, sink),
    });
    const FLOOD = 30;
    try {
      for (let i = 0; i < FLOOD; i++) {
        const c = await RawClient.connect(g);
        c.business(1, 'echo'); // not START
        assert.equal((await c.closed()).code, CloseCode.PROTOCOL_ERROR);
      }
      for (let i = 0; i < FLOOD; i++) await refused401(g, `user-${i}`, 'not-a-token');
    } finally {
      await g.close();
    }
    const count = (msg: string) => lines.filter((l) => l['msg'] === msg).length;
    assert.equal(count('protocol error'), 10);
    assert.equal(count('authentication failed'), 10);
    const summaries = lines.filter((l) => /^suppressed \d+ similar lines$/.test(String(l['msg'])));
    const suppressed = summaries.reduce((n, l) => n + Number(l['suppressed']), 0);
    assert.equal(suppressed, 2 * (FLOOD - 10), JSON.stringify(summaries));
  });
});

/** Runs `gatesvr ARGS` to completion (the test process keeps serving meanwhile). */
async function gatesvr(args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATESVR_')));
  try {
    const r = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      cwd: ROOT,
      env: { ...clean, ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('gatesvr token', () => {
  let g: Gateway;
  let es: Gateway;
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(dir, 'es256.key');
  before(async () => {
    writeFileSync(keyFile, ec.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const pubFile = join(dir, 'es256.pub');
    writeFileSync(pubFile, ec.publicKey.export({ type: 'spki', format: 'pem' }));
    g = await startTestGateway({ auth: { mode: 'jwt', jwtSecret: SECRET } });
    es = await startTestGateway({ auth: { mode: 'jwt', jwtSecret: '', jwtPublicKeyFile: pubFile } });
  });
  after(() => Promise.all([g.close(), es.close()]));

  it('secret from GATESVR_AUTH_JWT_SECRET: the gateway accepts the token', async () => {
    const r = await gatesvr(['token', '--openid', 'ivan', '--ttl', '10m'], {
      GATESVR_AUTH_JWT_SECRET: SECRET,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.equal((await startResult(g, 'ivan', r.stdout.trim())).body.success, true);
  });

  it('secret from --secret-file (one trailing newline ignored): accepted', async () => {
    const file = join(dir, 'secret');
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    const r = await gatesvr(['token', '--openid', 'judy', '--secret-file', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await startResult(g, 'judy', r.stdout.trim())).body.success, true);
  });

  it('--secret still works but warns on stderr; a short secret is refused', async () => {
    const r = await gatesvr(['token', '--openid', 'ken', '--secret', SECRET]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: --secret puts the secret in the process list/);
    assert.equal((await startResult(g, 'ken', r.stdout.trim())).body.success, true);
    const weak = await gatesvr(['token', '--openid', 'ken'], { GATESVR_AUTH_JWT_SECRET: 'short' });
    assert.notEqual(weak.code, 0);
    assert.match(weak.stderr, /at least 32 bytes/);
    assert.equal(weak.stdout, '');
  });

  it('--key-file signs ES256 for a gateway with a public key file', async () => {
    const r = await gatesvr(['token', '--openid', 'leo', '--key-file', keyFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(Buffer.from(r.stdout.split('.')[0]!, 'base64url').toString()).alg, 'ES256');
    assert.equal((await startResult(es, 'leo', r.stdout.trim())).body.success, true);
  });
});

describe('refusing to start', () => {
  const base = {
    GATESVR_SERVER_QUIC_ADDR: '127.0.0.1:0',
    GATESVR_SERVER_GRPC_ADDR: '127.0.0.1:0',
    GATESVR_SERVER_HTTP_ADDR: '127.0.0.1:0',
    GATESVR_SERVER_METRICS_ADDR: '127.0.0.1:0',
    GATESVR_AUTH_MODE: 'jwt',
  };

  it('an HS256 secret under 32 bytes: non-zero exit, one line naming the key', async () => {
    const short = 'sixteen-byte-key';
    const r = await gatesvr([], { ...base, GATESVR_AUTH_JWT_SECRET: short });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^config: auth\.jwt_secret: an HS256 secret needs at least 32 bytes \(got 16\)/);
    assert.ok(!r.stderr.includes(short), 'the secret is not echoed');
    assert.ok(!r.stdout.includes('gateway listening'));
  });

  it('a private key as jwt_public_key_file: non-zero exit, one line', async () => {
    const keyFile = join(dir, 'private.pem');
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const r = await gatesvr([], { ...base, GATESVR_AUTH_JWT_PUBLIC_KEY_FILE: keyFile });
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /auth\.jwt_public_key_file: holds a private key/);
  });
});

describe('stdout logging', () => {
  it('a reader that stops reading does not stall the gateway; every line is out after SIGTERM', async () => {
    const cert = await makeTestCert();
    const gp = await spawnGateway({ dir, name: 'logflush', cert, logLevel: 'debug' });
    const target = {
      addresses: { quic: { host: '127.0.0.1', port: gp.quicPort } },
      tls: { certPem: cert.certPem },
    } as unknown as Gateway;
    try {
      // Nobody reads the pipe any more: once it and the reader's buffer are full, a
      // synchronous logger blocks the event loop and no START is answered.
      gp.child.stdout!.pause();
      const N = 400; // about 190 KB of log lines: more than the pipe and the reader's buffer hold
      const pad = 'p'.repeat(110);
      const t0 = Date.now();
      for (let i = 0; i < N; i++) {
        const r = await startResult(target, `flush-${i}-${pad}`);
        assert.equal(r.body.success, true);
      }
      process.stderr.write(`# ${N} sessions while stdout was not read: ${Date.now() - t0} ms\n`);
      gp.child.kill('SIGTERM');
      gp.child.stdout!.resume();
      const exit = await gp.exited;
      assert.equal(exit.code, 0, gp.stderr());
      const started = new Set(
        gp.lines.filter((l) => l.msg === 'session started').map((l) => String(l.obj.openid)),
      );
      for (let i = 0; i < N; i++) assert.ok(started.has(`flush-${i}-${pad}`), `line of session ${i} lost`);
      assert.equal(gp.lines.at(-1)?.msg, 'stopped', 'the last line written before exit is there');
    } finally {
      await gp.kill('SIGKILL');
    }
  });
});
