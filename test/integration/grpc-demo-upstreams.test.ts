import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { type DemoUpstreams, dataText, startDemoUpstreams } from '../../src/demo/upstreams.js';
import type { StatusResponse, UpstreamRequest, UpstreamResponse } from '../../src/protocol/messages.js';
import { UpstreamServiceClient } from '../../src/transport/grpc/service-defs.js';
import { createUpstreamPool, type UpstreamPool } from '../../src/transport/grpc/upstream-pool.js';

const req = (action: string, params: Record<string, string> = {}, headers: Record<string, string> = {}) =>
  ({
    sessionId: 's',
    openid: 'o',
    action,
    params,
    headers,
    data: new Uint8Array(),
    clientSeqId: 1,
  }) as UpstreamRequest;

describe('demo upstreams', { timeout: 60_000 }, () => {
  let demo: DemoUpstreams;
  let pool: UpstreamPool;
  const call = (service: string, r: UpstreamRequest): Promise<UpstreamResponse> =>
    pool.call(service, r, 10_000);

  before(async () => {
    demo = await startDemoUpstreams({ receivedCapacity: 5 });
    pool = createUpstreamPool(demo.addresses, {});
  });
  after(async () => {
    pool.close();
    await demo.close();
  });

  it('hello service', async () => {
    const hi = await call('hello', req('LOGIN'));
    assert.deepEqual([hi.code, hi.message, hi.headers['zone']], [0, 'welcome', '1']);
    assert.equal((await call('hello', req('hello', { zone: 'x1' }))).code, 400);
    assert.equal((await call('hello', req('logout'))).code, 0);
    const st = await call('hello', req('status'));
    assert.equal(JSON.parse(dataText(st)).openid, 'o');
    assert.equal((await call('hello', req('data_sync'))).code, 0);
  });

  it('zone service', async () => {
    const calc = async (op: string, a: string, b: string) => call('zone', req('calculate', { op, a, b }));
    assert.equal(dataText(await calc('add', '2', '3')), '5');
    assert.equal(dataText(await calc('sub', '2', '3')), '-1');
    assert.equal(dataText(await calc('div', '7', '2')), '3.5');
    assert.equal((await calc('div', '1', '0')).code, 400);
    assert.equal((await calc('pow', '1', '2')).code, 400);
    assert.equal((await calc('add', 'x', '2')).code, 400);
    assert.ok(!Number.isNaN(Date.parse(dataText(await call('zone', req('time'))))));
    assert.equal(dataText(await call('zone', req('zone', {}, { zone: '4' }))), '4');
    assert.equal((await call('zone', req('constructor'))).code, 0);
  });

  it('keeps a bounded record of requests and answers GetStatus', async () => {
    for (let i = 0; i < 8; i++) await call('business', req(`a${i}`));
    assert.equal(demo.received.length, 5);
    assert.equal(demo.received.at(-1)!.request.action, 'a7');
    const client = new UpstreamServiceClient(demo.addresses.zone[0]!, grpc.credentials.createInsecure());
    try {
      const st = await new Promise<StatusResponse>((resolve, reject) =>
        client.getStatus({ serviceName: 'zone' }, (err, res) => (err ? reject(err) : resolve(res!))),
      );
      assert.equal(st.status, 'ok');
      assert.equal(st.metadata['service'], 'zone');
      assert.ok(st.uptime >= 0);
    } finally {
      client.close();
    }
  });
});
