/** The HTTP request checks: Host policy, cross-site refusal, local peers, JSON content type; admin.allowed_hosts loading. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import {
  crossSiteRefusal,
  hostAllowed,
  hostName,
  hostPolicy,
  isJsonContentType,
  isLocalPeer,
} from '../../src/transport/http/request-guard.js';

describe('host policy', () => {
  test('loopback names and the bound http_addr host are allowed by default, nothing else', () => {
    const p = hostPolicy('10.1.2.3:8080', []);
    for (const h of [
      'localhost',
      'localhost:8080',
      'LOCALHOST.',
      '127.0.0.1:1',
      '[::1]:8080',
      '[::1]',
      '10.1.2.3:8080',
    ]) {
      assert.ok(hostAllowed(h, p), h);
    }
    for (const h of [
      undefined,
      '',
      'rebind.attacker.example',
      'localhost.attacker.example',
      '127.0.0.2',
      '[::2]',
      'a b',
      'x@localhost',
      'localhost:99999999',
      '10.1.2.3/x',
    ]) {
      assert.ok(!hostAllowed(h, p), String(h));
    }
  });

  test('an unspecified http_addr host adds nothing; allowed_hosts adds names, "*" turns the check off', () => {
    for (const addr of [':8080', '0.0.0.0:8080', '[::]:8080']) {
      assert.deepEqual([...hostPolicy(addr, []).names].sort(), ['127.0.0.1', '::1', 'localhost']);
    }
    const p = hostPolicy(':8080', ['GateSvr.Internal', '[2001:db8::1]']);
    assert.ok(hostAllowed('gatesvr.internal:8080', p));
    assert.ok(hostAllowed('[2001:db8::1]:8080', p));
    assert.ok(!hostAllowed('evil.example', p));
    const any = hostPolicy(':8080', ['*']);
    assert.ok(hostAllowed('evil.example', any));
    assert.equal(any.extra.size, 0);
  });

  test('hostName strips the port and IPv6 brackets, lower-cases, refuses junk', () => {
    assert.equal(hostName('Example.COM:80'), 'example.com');
    assert.equal(hostName('[::1]:8080'), '::1');
    assert.equal(hostName('example.com.'), 'example.com');
    assert.equal(hostName('example.com:'), null);
    assert.equal(hostName('[::1'), null);
    assert.equal(hostName('exa mple'), null);
  });
});

describe('cross-site refusal of state-changing requests', () => {
  const p = hostPolicy('127.0.0.1:8080', ['ops.example']);
  const refused = (h: Record<string, string>) =>
    crossSiteRefusal({ host: '127.0.0.1:8080', ...h }, p) !== null;

  test('same origin, a typed request and non-browser clients pass', () => {
    assert.ok(!refused({}));
    assert.ok(!refused({ origin: 'http://127.0.0.1:8080', 'sec-fetch-site': 'same-origin' }));
    assert.ok(!refused({ 'sec-fetch-site': 'none' }));
    // The scheme is not compared: a TLS proxy serves this http server as https.
    assert.ok(!refused({ origin: 'https://127.0.0.1:8080' }));
    assert.ok(!crossSiteRefusal({ host: 'gw.example', origin: 'https://gw.example' }, p));
    assert.ok(!crossSiteRefusal({ host: 'gw.example:80', origin: 'http://gw.example' }, p));
    // A configured name is trusted as an origin.
    assert.ok(!refused({ origin: 'https://ops.example' }));
  });

  test('another site, another port, an opaque or malformed origin are refused', () => {
    assert.ok(refused({ origin: 'https://evil.example' }));
    assert.ok(refused({ 'sec-fetch-site': 'cross-site' }));
    assert.ok(refused({ 'sec-fetch-site': 'same-site' }));
    assert.ok(refused({ origin: 'http://127.0.0.1:3000' }));
    assert.ok(refused({ origin: 'http://localhost:8080' }), 'another name for this host is another origin');
    assert.ok(refused({ origin: 'null' }));
    assert.ok(refused({ origin: 'file://' }));
    assert.ok(refused({ origin: '%%%' }));
    assert.ok(crossSiteRefusal({ origin: 'http://127.0.0.1:8080' }, p) !== null, 'no Host to compare');
  });
});

describe('local peers and content types', () => {
  test('loopback is local unless a forwarding header says a proxy relayed it', () => {
    for (const a of ['127.0.0.1', '127.9.9.9', '::1', '::ffff:127.0.0.1']) assert.ok(isLocalPeer(a, {}), a);
    for (const a of [undefined, '10.0.0.1', '::ffff:10.0.0.1', '2001:db8::1'])
      assert.ok(!isLocalPeer(a, {}), String(a));
    for (const h of ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'via']) {
      assert.ok(!isLocalPeer('127.0.0.1', { [h]: '203.0.113.1' }), h);
    }
  });

  test('only application/json (with parameters) is JSON', () => {
    assert.ok(isJsonContentType('application/json'));
    assert.ok(isJsonContentType('Application/JSON; charset=utf-8'));
    for (const t of [
      undefined,
      '',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data',
      'application/jsonx',
      'text/json',
    ]) {
      assert.ok(!isJsonContentType(t), String(t));
    }
  });
});

describe('admin.allowed_hosts', () => {
  test('loads from the environment as a list; ports and junk are refused', () => {
    const cfg = loadConfig({
      argv: [],
      env: { GATESVR_ADMIN_ALLOWED_HOSTS: 'gw.example, 10.0.0.5,[::1],*' },
    });
    assert.deepEqual(cfg.admin.allowedHosts, ['gw.example', '10.0.0.5', '[::1]', '*']);
    assert.deepEqual(loadConfig({ argv: [], env: {} }).admin.allowedHosts, []);
    for (const bad of ['gw.example:8080', 'http://gw.example', 'a b']) {
      assert.throws(
        () => loadConfig({ argv: [], env: { GATESVR_ADMIN_ALLOWED_HOSTS: bad } }),
        (e: unknown) => e instanceof ConfigError && e.key === 'admin.allowed_hosts',
        bad,
      );
    }
  });
});
