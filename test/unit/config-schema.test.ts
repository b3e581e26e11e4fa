import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  AddrError,
  DEFAULTS,
  defaultConfig,
  FIELDS,
  formatAddr,
  getProp,
  parseAddr,
} from '../../src/config/schema.js';
import { createRoutingTable } from '../../src/machines/routing.js';

describe('parseAddr', () => {
  it('parses host:port, :port and [v6]:port', () => {
    assert.deepEqual(parseAddr(':8453'), { host: '', port: 8453 });
    assert.deepEqual(parseAddr('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseAddr('localhost:0'), { host: 'localhost', port: 0 });
    assert.deepEqual(parseAddr('backup-server.example.com:8093'), {
      host: 'backup-server.example.com',
      port: 8093,
    });
    assert.deepEqual(parseAddr('[::1]:9090'), { host: '::1', port: 9090 });
    assert.deepEqual(parseAddr('[::]:65535'), { host: '::', port: 65535 });
    assert.deepEqual(parseAddr('0.0.0.0:1'), { host: '0.0.0.0', port: 1 });
  });

  it('rejects bad addresses', () => {
    for (const bad of [
      '8453',
      ':',
      ':65536',
      ':-1',
      'host:',
      'host:abc',
      '::1:80',
      '[::1]80',
      '[zz]:80',
      'a b:80',
      '',
    ]) {
      assert.throws(() => parseAddr(bad), AddrError, bad);
    }
    assert.throws(() => parseAddr(':8081', { requireHost: true }), /a host is required/);
  });

  it('formats back', () => {
    assert.equal(formatAddr({ host: '::1', port: 1 }), '[::1]:1');
    assert.equal(formatAddr({ host: '', port: 8453 }), ':8453');
    assert.equal(formatAddr(parseAddr('h:2')), 'h:2');
  });
});

describe('defaults and routes', () => {
  it('has the documented defaults', () => {
    const c = defaultConfig();
    assert.equal(c.server.quicAddr, ':8453');
    assert.equal(c.server.httpAddr, ':8080');
    assert.equal(c.server.grpcAddr, '127.0.0.1:8092', 'push API on loopback unless configured');
    assert.equal(c.server.metricsAddr, ':9090');
    assert.equal(c.server.sessionTimeoutMs, 300_000);
    assert.equal(c.server.ackTimeoutMs, 30_000);
    assert.equal(c.server.maxRetries, 3);
    assert.equal(c.server.resumeWindowMs, 60_000);
    assert.equal(c.server.startTimeoutMs, 5000);
    assert.equal(c.server.maxQueue, 1000);
    assert.equal(c.server.maxFrameBytes, 1_048_576);
    assert.equal(c.overloadProtection.maxConnections, 1000);
    assert.equal(c.overloadProtection.upstreamTimeoutMs, 30_000);
    assert.equal(c.auth.mode, 'none');
    assert.equal(c.nats.url, '');
    assert.equal(c.backup.heartbeat.timeoutMs, 6000);
    assert.equal(c.log.maxSizeMb, 3);
    assert.deepEqual(c.upstreamServices.hello, []);
  });

  it('DEFAULTS is frozen and defaultConfig() is a fresh copy', () => {
    assert.ok(Object.isFrozen(DEFAULTS.server));
    const a = defaultConfig();
    a.server.maxRetries = 9;
    a.upstreamServices.hello.push('x:1');
    assert.equal(DEFAULTS.server.maxRetries, 3);
    assert.deepEqual(defaultConfig().upstreamServices.hello, []);
  });

  it('every field has a default at its property path and a systematic env name', () => {
    for (const s of FIELDS) {
      assert.notEqual(getProp(DEFAULTS, s.prop), undefined, s.path);
      assert.equal(s.env[0], `GATESVR_${s.path.toUpperCase().replaceAll('.', '_')}`);
    }
    assert.equal(new Set(FIELDS.map((s) => s.path)).size, FIELDS.length);
  });

  it('routes actions like the seed, with overrides (the table the config feeds)', () => {
    const serviceForAction = (action: string, routes?: Record<string, string>) =>
      createRoutingTable(routes).serviceFor(action);
    assert.equal(serviceForAction('hello'), 'hello');
    assert.equal(serviceForAction('data_sync'), 'hello');
    assert.equal(serviceForAction('echo'), 'zone');
    assert.equal(serviceForAction('time'), 'zone');
    assert.equal(serviceForAction('buy'), 'business');
    assert.equal(serviceForAction('toString'), 'business');
    assert.equal(serviceForAction('echo', { echo: 'business' }), 'business');
  });
});
