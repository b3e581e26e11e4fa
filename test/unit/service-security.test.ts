import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bearerChecker, bearerHeader } from '../../src/auth/bearer.js';
import { isLoopbackHost, openPushApi } from '../../src/config/exposure.js';
import {
  hasUrlCredentials,
  redactNatsUrl,
  redactNatsUrls,
  redactUrlsIn,
  splitUrlCredentials,
} from '../../src/config/url-credentials.js';

describe('bearer tokens', () => {
  it('accepts exactly "Bearer <token>"', () => {
    const ok = bearerChecker('s3cret');
    assert.equal(ok(bearerHeader('s3cret')), true);
    assert.equal(ok('bearer s3cret'), true, 'the scheme is case-insensitive');
    for (const bad of [
      undefined,
      '',
      's3cret',
      'Bearer',
      'Bearer s3cre',
      'Bearer s3cret2',
      'Bearer S3CRET',
      'Basic s3cret',
    ]) {
      assert.equal(ok(bad), false, String(bad));
    }
    assert.throws(() => bearerChecker(''), /non-empty/);
  });
});

describe('push API exposure', () => {
  it('knows loopback hosts', () => {
    for (const h of ['localhost', 'LOCALHOST', '127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1']) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of ['', '0.0.0.0', '::', '10.0.0.1', 'gate.example.com', '128.0.0.1']) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });

  it('is open only off loopback with neither token nor mTLS', () => {
    assert.match(
      openPushApi({ grpcAddr: ':8092', token: false, mtls: false }) ?? '',
      /reachable from other hosts/,
    );
    assert.match(
      openPushApi({ grpcAddr: '10.0.0.5:8092', token: false, mtls: false }) ?? '',
      /push_api.token/,
    );
    assert.equal(openPushApi({ grpcAddr: ':8092', token: true, mtls: false }), null);
    assert.equal(openPushApi({ grpcAddr: ':8092', token: false, mtls: true }), null);
    assert.equal(openPushApi({ grpcAddr: '127.0.0.1:8092', token: false, mtls: false }), null);
    assert.equal(openPushApi({ grpcAddr: '[::1]:8092', token: false, mtls: false }), null);
  });
});

describe('credentials in NATS URLs', () => {
  it('finds, redacts and lifts them out', () => {
    assert.equal(hasUrlCredentials('nats://127.0.0.1:4222'), false);
    assert.equal(hasUrlCredentials('nats://u:p@h:4222'), true);
    assert.equal(redactNatsUrl('nats://u:p@h:4222'), 'nats://***@h:4222');
    assert.equal(redactNatsUrl('tls://tok@h'), 'tls://***@h');
    assert.equal(redactNatsUrl('h:4222'), 'h:4222');
    assert.equal(redactNatsUrls('nats://a:b@h1:1, nats://h2:2'), 'nats://***@h1:1,nats://h2:2');
    assert.equal(
      redactUrlsIn('failed nats://a:b@h1:1 and tls://t@h2'),
      'failed nats://***@h1:1 and tls://***@h2',
    );
    assert.deepEqual(splitUrlCredentials('nats://gate:p%40ss@h:4222'), {
      url: 'nats://h:4222',
      credentials: { user: 'gate', pass: 'p@ss' },
    });
    assert.deepEqual(splitUrlCredentials('nats://tok@h:4222'), {
      url: 'nats://h:4222',
      credentials: { token: 'tok' },
    });
    assert.deepEqual(splitUrlCredentials('nats://h:4222'), { url: 'nats://h:4222', credentials: null });
  });
});
