import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRoutingTable, DEFAULT_ROUTES, isHelloService } from '../../src/machines/routing.js';

describe('routing table', () => {
  it('routes the default actions', () => {
    const rt = createRoutingTable();
    for (const a of ['hello', 'logout', 'status', 'heartbeat', 'data_sync'])
      assert.equal(rt.serviceFor(a), 'hello');
    for (const a of ['zone', 'echo', 'calculate', 'time']) assert.equal(rt.serviceFor(a), 'zone');
    for (const a of ['buy', 'login', '', 'sleep', 'constructor', '__proto__']) {
      assert.equal(rt.serviceFor(a), 'business');
    }
  });

  it('matches actions case-insensitively', () => {
    const rt = createRoutingTable();
    assert.equal(rt.serviceFor('HELLO'), 'hello');
    assert.equal(rt.serviceFor('Data_Sync'), 'hello');
    assert.equal(rt.serviceFor('Echo'), 'zone');
    assert.equal(rt.serviceFor('BUY'), 'business');
  });

  it('applies overrides (keys lower-cased) and a fallback override', () => {
    const rt = createRoutingTable({ Login: 'hello', echo: 'business', shop: 'mall' });
    assert.equal(rt.serviceFor('login'), 'hello');
    assert.equal(rt.serviceFor('LOGIN'), 'hello');
    assert.equal(rt.serviceFor('echo'), 'business');
    assert.equal(rt.serviceFor('shop'), 'mall');
    assert.equal(rt.serviceFor('time'), 'zone');
    assert.equal(rt.serviceFor('other'), 'business');
    assert.equal(createRoutingTable({ '*': 'mall' }).serviceFor('other'), 'mall');
  });

  it('rejects an empty service name and leaves the defaults untouched', () => {
    assert.throws(() => createRoutingTable({ x: '' }), TypeError);
    createRoutingTable({ hello: 'business' });
    assert.equal(DEFAULT_ROUTES['hello'], 'hello');
    assert.equal(createRoutingTable().serviceFor('hello'), 'hello');
  });

  it('knows the hello service', () => {
    assert.equal(isHelloService('hello'), true);
    assert.equal(isHelloService('zone'), false);
    assert.equal(isHelloService('business'), false);
  });
});
