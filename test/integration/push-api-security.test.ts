/**
 * The push API's guards (docs/protocol.md section 5, push API authentication):
 * bearer token, TLS and mTLS on the gRPC GatewayService; TLS of upstream calls.
 * Real gateway, real QUIC clients, real PushClient and gRPC upstreams.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { PushClient } from '../../src/client/push-client.js';
import { startDemoUpstreams } from '../../src/demo/upstreams.js';
import type { GateError } from '../../src/errors.js';
import type { Gateway } from '../../src/gateway.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import { makeSelfSignedCert, makeTestPki, type TestPki } from '../helpers/certs.js';
import { connectClient, login, startTestGateway } from '../helpers/gateway.js';

const TOKEN = 'push-token-0123456789abcdef';

const target = (gw: Gateway) => `127.0.0.1:${gw.addresses.grpc.port}`;
const isStatus = (code: grpc.status) => (e: grpc.ServiceError) => {
  assert.equal(e.code, code, `${grpc.status[e.code]}: ${e.details}`);
  return true;
};

let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});
after(async () => {
  await rm(pki.dir, { recursive: true, force: true });
});

describe('push API token', { timeout: 60_000 }, () => {
  let gw: Gateway;
  before(async () => {
    gw = await startTestGateway({ pushApi: { token: TOKEN } });
  });
  after(async () => {
    await gw.close();
  });

  it('refuses calls without the token or with a wrong one (UNAUTHENTICATED), delivers with the right one', async () => {
    const client = await connectClient(gw, 'tok-user');
    await login(client);
    const anonymous = new PushClient(target(gw));
    const wrong = new PushClient(target(gw), { token: `${TOKEN}x` });
    const lowercase = new PushClient(target(gw), { token: TOKEN.toUpperCase() });
    const right = new PushClient(target(gw), { token: TOKEN });
    try {
      const push = { targetType: 'openid', targetId: 'tok-user' } as const;
      const refused = isStatus(grpc.status.UNAUTHENTICATED);
      await assert.rejects(anonymous.push({ ...push, content: 'anonymous' }), refused);
      await assert.rejects(
        anonymous.batch({ targets: [{ targetType: 'openid', targetId: 'tok-user' }], content: 'batch' }),
        refused,
      );
      await assert.rejects(anonymous.broadcast({ content: 'broadcast' }), refused);
      await assert.rejects(wrong.push({ ...push, content: 'wrong' }), refused);
      await assert.rejects(lowercase.push({ ...push, content: 'case' }), refused);
      // Malformed requests are refused as unauthenticated too, not validated first.
      await assert.rejects(anonymous.push({ targetType: 'nonsense', targetId: '' }), refused);

      // A stream without the token fails as a whole; none of its pushes is delivered.
      const stream = anonymous.stream({ window: 4 });
      const streamed = ['s-1', 's-2', 's-3'].map((content) => stream.push({ ...push, content }));
      for (const p of streamed) await assert.rejects(p, refused);
      await stream.close();
      const wrongStream = wrong.stream();
      await assert.rejects(wrongStream.push({ ...push, content: 's-wrong' }), refused);

      const r = await right.push({ ...push, content: 'right' });
      assert.equal(r.success, true, r.message);
      // Pushes to one session arrive in order: had any refused one been accepted, it would come first.
      assert.equal((await client.nextNotify()).content, 'right');
      const ok = right.stream();
      const sr = await ok.push({ ...push, content: 'right-stream' });
      assert.equal(sr.success, true, sr.message);
      await ok.close();
      assert.equal((await client.nextNotify()).content, 'right-stream');
      const b = await right.broadcast({ content: 'all' });
      assert.equal(b.success, true, b.message);
      assert.equal((await client.nextNotify()).content, 'all');
    } finally {
      for (const p of [anonymous, wrong, lowercase, right]) p.close();
      await client.stop();
    }
  });
});

describe('push API token from push_api.token_file', { timeout: 60_000 }, () => {
  it('reads the token from the file at start', async () => {
    const file = join(pki.dir, 'push-token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    const gw = await startTestGateway({ pushApi: { tokenFile: file } });
    const client = await connectClient(gw, 'file-user');
    const anonymous = new PushClient(target(gw));
    const right = new PushClient(target(gw), { token: TOKEN });
    try {
      await login(client);
      const push = { targetType: 'openid', targetId: 'file-user' } as const;
      await assert.rejects(anonymous.push({ ...push, content: 'x' }), isStatus(grpc.status.UNAUTHENTICATED));
      assert.equal((await right.push({ ...push, content: 'from-file' })).success, true);
      assert.equal((await client.nextNotify()).content, 'from-file');
    } finally {
      anonymous.close();
      right.close();
      await client.stop();
      await gw.close();
    }
  });
});

describe('push API over TLS', { timeout: 60_000 }, () => {
  it('serves TLS with the configured certificate; a plaintext producer gets nowhere', async () => {
    const gw = await startTestGateway({
      pushApi: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, token: TOKEN },
    });
    const client = await connectClient(gw, 'tls-user');
    const plain = new PushClient(target(gw), { token: TOKEN, timeoutMs: 5_000 });
    const untrusting = new PushClient(target(gw), { token: TOKEN, timeoutMs: 5_000, tls: {} });
    const tls = new PushClient(target(gw), { token: TOKEN, tls: { ca: pki.caPem } });
    try {
      await login(client);
      const push = { targetType: 'openid', targetId: 'tls-user' } as const;
      await assert.rejects(plain.push({ ...push, content: 'plain' }), isStatus(grpc.status.UNAVAILABLE));
      // The system roots do not know the test CA.
      await assert.rejects(untrusting.push({ ...push, content: 'roots' }), isStatus(grpc.status.UNAVAILABLE));
      assert.equal((await tls.push({ ...push, content: 'over-tls' })).success, true);
      assert.equal((await client.nextNotify()).content, 'over-tls');
    } finally {
      for (const p of [plain, untrusting, tls]) p.close();
      await client.stop();
      await gw.close();
    }
  });

  it('with push_api.client_ca_file requires a client certificate from that CA (mTLS)', async () => {
    const gw = await startTestGateway({
      pushApi: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, clientCaFile: pki.caFile },
    });
    const client = await connectClient(gw, 'mtls-user');
    const noCert = new PushClient(target(gw), { timeoutMs: 5_000, tls: { ca: pki.caPem } });
    // A certificate the client CA did not issue is refused too.
    const stranger = await makeSelfSignedCert();
    const otherCert = new PushClient(target(gw), {
      timeoutMs: 5_000,
      tls: { ca: pki.caPem, cert: stranger.certPem, key: stranger.keyPem },
    });
    const withCert = new PushClient(target(gw), {
      tls: { ca: pki.caPem, cert: pki.client.certPem, key: pki.client.keyPem },
    });
    try {
      await login(client);
      const push = { targetType: 'openid', targetId: 'mtls-user' } as const;
      await assert.rejects(noCert.push({ ...push, content: 'no-cert' }), isStatus(grpc.status.UNAVAILABLE));
      await assert.rejects(otherCert.push({ ...push, content: 'other' }), isStatus(grpc.status.UNAVAILABLE));
      assert.equal((await withCert.push({ ...push, content: 'mtls' })).success, true);
      assert.equal((await client.nextNotify()).content, 'mtls');
    } finally {
      for (const p of [noCert, otherCert, withCert]) p.close();
      await client.stop();
      await gw.close();
    }
  });
});

describe('push API security files', { timeout: 30_000 }, () => {
  it('a missing, empty or mismatched file stops the start with a one-line reason naming the key', async () => {
    const empty = join(pki.dir, 'empty-token');
    await writeFile(empty, '\n');
    const cases: Array<[Parameters<typeof startTestGateway>[0], string, RegExp]> = [
      [{ pushApi: { tokenFile: join(pki.dir, 'absent') } }, 'push_api.token_file', /no such file/],
      [{ pushApi: { tokenFile: empty } }, 'push_api.token_file', /is empty/],
      [
        { pushApi: { certFile: pki.server.certFile, keyFile: pki.client.keyFile } },
        'push_api.key_file',
        /does not match/,
      ],
      [{ upstreamTls: { caFile: join(pki.dir, 'absent') } }, 'upstream_tls.ca_file', /no such file/],
    ];
    for (const [patch, key, why] of cases) {
      await assert.rejects(startTestGateway(patch), (e: Error & { key?: string }) => {
        assert.equal(e.name, 'ConfigError', e.message);
        assert.equal(e.key, key);
        assert.match(e.message, why);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      });
    }
  });
});

describe('upstream calls over TLS', { timeout: 60_000 }, () => {
  it('reaches a TLS upstream with upstream_tls.ca_file; without that CA the request fails with 503', async () => {
    const upstream = await startDemoUpstreams({
      business: 0,
      tls: { certPem: pki.server.certPem, keyPem: pki.server.keyPem },
    });
    const business = upstream.addresses.business;
    const trusting = await startTestGateway({
      upstreamServices: { business },
      upstreamTls: { caFile: pki.caFile },
    });
    const untrusting = await startTestGateway({
      upstreamServices: { business },
      upstreamTls: { enabled: true },
    });
    const plaintext = await startTestGateway({ upstreamServices: { business } });
    try {
      const ok = await connectClient(trusting, 'up-tls');
      await login(ok);
      const a = await ok.request('buy_item', {}, Buffer.from('over tls'));
      assert.equal(a.code, 0, a.message);
      assert.equal(Buffer.from(a.data).toString(), 'over tls');
      assert.ok(upstream.received.some((r) => r.request.openid === 'up-tls'));
      await ok.stop();

      for (const [gw, openid] of [
        [untrusting, 'up-untrusting'],
        [plaintext, 'up-plaintext'],
      ] as const) {
        const c = await connectClient(gw, openid);
        await login(c);
        await assert.rejects(
          c.request('buy_item', {}, Buffer.from('x')),
          (e: GateError) => e.code === ErrorCode.UPSTREAM_UNAVAILABLE,
        );
        assert.ok(
          !upstream.received.some((r) => r.request.openid === openid),
          `${openid} reached the upstream`,
        );
        await c.stop();
      }
    } finally {
      await Promise.all([trusting.close(), untrusting.close(), plaintext.close()]);
      await upstream.close();
    }
  });
});
