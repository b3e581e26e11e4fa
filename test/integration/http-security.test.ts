/**
 * Attacks on the operations HTTP server of a running gateway in its default
 * posture (no admin.token, loopback only), each one answered without touching a
 * live QUIC session:
 *   - DNS rebinding: a foreign Host name reads nothing (421), /health still answers;
 *   - CSRF: a cross-site POST (Origin, Sec-Fetch-Site) or a text/plain "simple"
 *     request cannot kick; a same-origin JSON POST can;
 *   - clickjacking / sniffing: security headers on every answer, metrics too;
 *   - a same-host reverse proxy: a forwarded request is not local (token needed).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';
import { type RawHttpResponse, rawHttp } from '../helpers/http-raw.js';

const REBIND = 'rebind.attacker.example';
const JSON_TYPE = { 'content-type': 'application/json' };

function assertSecurityHeaders(res: RawHttpResponse, what: string): void {
  assert.equal(res.headers['x-frame-options'], 'DENY', `${what}: X-Frame-Options`);
  assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/, `${what}: CSP`);
  assert.equal(res.headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(res.headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`);
}

/** The client's session is alive: no close seen, and a request is answered on it. */
async function assertAlive(gw: Gateway, client: GateClient, closes: number[]): Promise<void> {
  assert.deepEqual(closes, [], 'the client was not disconnected');
  const a = await client.request('echo', { still: 'here' });
  assert.equal(a.code, 0);
  assert.ok(gw.system.get(client.sessionId), 'the session is still in the gateway');
}

describe('HTTP surface in the default posture (no token, loopback only)', () => {
  let gw: Gateway;
  let port: number;
  let alice: GateClient;
  const aliceCloses: number[] = [];

  before(async () => {
    gw = await startTestGateway({ admin: { token: '', loopbackOnly: true } });
    port = gw.addresses.http.port;
    alice = await connectClient(gw, 'alice');
    alice.onClose((info) => aliceCloses.push(info.code));
    await login(alice, '3');
  });

  after(async () => {
    alice.close();
    await gw.close();
  });

  test('DNS rebinding: a foreign Host reads no session (421); the right Host does', async () => {
    for (const path of [
      '/admin/sessions',
      `/admin/sessions/${alice.sessionId}`,
      '/stats',
      '/performance',
      '/',
    ]) {
      const res = await rawHttp(port, { path, headers: { host: `${REBIND}:${port}` } });
      assert.equal(res.status, 421, `${path} with Host ${REBIND}`);
      assert.ok(
        !res.text.includes('alice') && !res.text.includes(alice.sessionId),
        `${path}: no session data`,
      );
      assertSecurityHeaders(res, `421 ${path}`);
    }
    // No Host at all, or a malformed one, is not a name of this server either.
    assert.equal((await rawHttp(port, { path: '/admin/sessions', headers: { host: '' } })).status, 421);
    assert.equal((await rawHttp(port, { path: '/admin/sessions', headers: { host: 'a b@c' } })).status, 421);

    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`]) {
      const ok = await rawHttp(port, { path: '/admin/sessions', headers: { host } });
      assert.equal(ok.status, 200, `Host ${host}`);
      assert.equal(JSON.parse(ok.text).sessions[0].openid, 'alice');
    }
    // Load-balancer probes name the instance any way they like.
    const health = await rawHttp(port, { path: '/health', headers: { host: REBIND } });
    assert.equal(health.status, 200);
    assert.equal((await rawHttp(port, { path: '/live', headers: { host: REBIND } })).status, 200);
    await assertAlive(gw, alice, aliceCloses);
  });

  test('CSRF: cross-site and text/plain kicks are refused and the session lives', async () => {
    const kick = `/admin/sessions/${alice.sessionId}/kick`;
    const host = `127.0.0.1:${port}`;
    const attempts: Array<{ what: string; headers: Record<string, string>; body: string; status: number }> = [
      {
        what: 'Origin https://evil.example, JSON',
        headers: { host, origin: 'https://evil.example', ...JSON_TYPE },
        body: '{}',
        status: 403,
      },
      {
        what: 'text/plain, Sec-Fetch-Site cross-site, no Origin',
        headers: { host, 'sec-fetch-site': 'cross-site', 'content-type': 'text/plain' },
        body: '{}',
        status: 403,
      },
      {
        what: 'another port of this host (same-site, not same-origin)',
        headers: { host, origin: 'http://127.0.0.1:1', 'sec-fetch-site': 'same-site', ...JSON_TYPE },
        body: '{}',
        status: 403,
      },
      {
        what: 'Origin null (sandboxed page)',
        headers: { host, origin: 'null', ...JSON_TYPE },
        body: '',
        status: 403,
      },
      {
        what: 'text/plain without browser headers',
        headers: { host, 'content-type': 'text/plain' },
        body: '{}',
        status: 415,
      },
      {
        what: 'form post',
        headers: { host, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'a=b',
        status: 415,
      },
      { what: 'no content type', headers: { host }, body: '', status: 415 },
      { what: 'JSON that is not JSON', headers: { host, ...JSON_TYPE }, body: 'kick!', status: 400 },
      {
        what: 'a rebinding Host, same-origin to itself',
        headers: { host: REBIND, origin: `http://${REBIND}`, 'sec-fetch-site': 'same-origin', ...JSON_TYPE },
        body: '{}',
        status: 421,
      },
    ];
    for (const a of attempts) {
      const res = await rawHttp(port, { method: 'POST', path: kick, headers: a.headers, body: a.body });
      assert.equal(res.status, a.status, `${a.what}: ${res.text}`);
      assert.ok(!res.text.includes('"kicked"'), a.what);
    }
    await assertAlive(gw, alice, aliceCloses);
  });

  test('a kick with a body over the limit is 413 and the gateway lives on (the request log read a detached socket)', async () => {
    const res = await rawHttp(port, {
      method: 'POST',
      path: `/admin/sessions/${alice.sessionId}/kick`,
      headers: { host: `127.0.0.1:${port}`, ...JSON_TYPE },
      body: `{"pad":"${'x'.repeat(300_000)}"}`,
    }).catch((err: unknown) => ({ status: 0, headers: {}, text: String(err) }));
    // The server may cut the upload after answering; either way no kick.
    assert.ok(res.status === 413 || res.status === 0, `${res.status} ${res.text.slice(0, 200)}`);
    // Whatever node does with the rest of the body, the response's log line runs once it is sent.
    const health = await rawHttp(port, { path: '/health' });
    assert.equal(health.status, 200);
    await assertAlive(gw, alice, aliceCloses);
  });

  test('the operator page own kick (same origin, JSON) still works', async () => {
    const bob = await connectClient(gw, 'bob');
    const closed = new Promise<number>((resolve) => bob.onClose((info) => resolve(info.code)));
    const res = await rawHttp(port, {
      method: 'POST',
      path: `/admin/sessions/${bob.sessionId}/kick`,
      headers: {
        host: `127.0.0.1:${port}`,
        origin: `http://127.0.0.1:${port}`,
        'sec-fetch-site': 'same-origin',
        'content-type': 'application/json; charset=utf-8',
      },
      body: '{}',
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(await closed, 0);
    await waitFor(() => gw.system.get(bob.sessionId) === undefined, 5000, 'bob removed');
    await assertAlive(gw, alice, aliceCloses);
  });

  test('security headers on the page, the API, errors and /metrics; the page CSP has no unsafe-inline', async () => {
    const host = { host: `127.0.0.1:${port}` };
    const page = await rawHttp(port, { path: '/', headers: host });
    assert.equal(page.status, 200);
    assertSecurityHeaders(page, 'page');
    const csp = String(page.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/]+=*'/);
    assert.match(csp, /style-src 'sha256-[A-Za-z0-9+/]+=*'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    for (const path of ['/admin/sessions', '/stats', '/health', '/nope', '/admin/nope']) {
      assertSecurityHeaders(await rawHttp(port, { path, headers: host }), path);
    }
    assertSecurityHeaders(
      await rawHttp(port, { method: 'DELETE', path: '/admin/sessions', headers: host }),
      'DELETE /admin/sessions',
    );
    const metricsPort = gw.addresses.metrics.port;
    assertSecurityHeaders(await rawHttp(metricsPort, { path: '/metrics' }), '/metrics');
    assertSecurityHeaders(await rawHttp(metricsPort, { path: '/other' }), 'metrics 404');
  });

  test('a request forwarded by a proxy on this host is not local: admin API 403', async () => {
    const forwards: Array<Record<string, string>> = [
      { 'x-forwarded-for': '203.0.113.9' },
      { forwarded: 'for=203.0.113.9' },
      { 'x-real-ip': '203.0.113.9' },
    ];
    for (const fwd of forwards) {
      const res = await rawHttp(port, { path: '/admin/sessions', headers: { host: 'localhost', ...fwd } });
      assert.equal(res.status, 403, JSON.stringify(fwd));
      assert.ok(!res.text.includes('alice'));
      const st = await rawHttp(port, { path: '/stats', headers: { host: 'localhost', ...fwd } });
      assert.equal(st.status, 403, `/stats ${JSON.stringify(fwd)}`);
    }
    assert.equal((await rawHttp(port, { path: '/stats', headers: { host: 'localhost' } })).status, 200);
  });
});

describe('HTTP surface with admin.token and admin.allowed_hosts', () => {
  const TOKEN = 'sec-token-0e3b7c5a91';
  let gw: Gateway;
  let port: number;

  before(async () => {
    gw = await startTestGateway({
      admin: { token: TOKEN, loopbackOnly: true, allowedHosts: ['gatesvr.internal'] },
    });
    port = gw.addresses.http.port;
  });

  after(async () => {
    await gw.close();
  });

  test('/stats and /performance forwarded from loopback need the token', async () => {
    for (const path of ['/stats', '/performance']) {
      const fwd = { host: `127.0.0.1:${port}`, 'x-forwarded-for': '198.51.100.7' };
      const none = await rawHttp(port, { path, headers: fwd });
      assert.equal(none.status, 401, `${path} forwarded, no token`);
      assert.ok(!none.text.includes('uptimeSeconds') && !none.text.includes('latencyMs'));
      const bad = await rawHttp(port, { path, headers: { ...fwd, authorization: 'Bearer wrong' } });
      assert.equal(bad.status, 403);
      const good = await rawHttp(port, { path, headers: { ...fwd, authorization: `Bearer ${TOKEN}` } });
      assert.equal(good.status, 200, `${path} forwarded with the token`);
      // Straight from this host, no token needed.
      assert.equal((await rawHttp(port, { path, headers: { host: `127.0.0.1:${port}` } })).status, 200);
    }
  });

  test('a configured name is served and may post same-origin; others are not', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const ok = await rawHttp(port, {
      path: '/admin/sessions',
      headers: { host: `gatesvr.internal:${port}`, ...auth },
    });
    assert.equal(ok.status, 200);
    const other = await rawHttp(port, {
      path: '/admin/sessions',
      headers: { host: 'gatesvr.other', ...auth },
    });
    assert.equal(other.status, 421);
    // A page served as https://gatesvr.internal through a TLS proxy posts with that Origin.
    const viaProxy = await rawHttp(port, {
      method: 'POST',
      path: '/admin/sessions/none/kick',
      headers: { host: `127.0.0.1:${port}`, origin: 'https://gatesvr.internal', ...JSON_TYPE, ...auth },
      body: '{}',
    });
    assert.equal(viaProxy.status, 404, viaProxy.text);
  });
});
