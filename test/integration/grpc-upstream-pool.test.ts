import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type DemoUpstreams, dataText, startDemoUpstreams } from '../../src/demo/upstreams.js';
import { GateError } from '../../src/errors.js';
import { createRoutingTable } from '../../src/machines/routing.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import type { UpstreamRequest } from '../../src/protocol/messages.js';
import { createUpstreamPool, type UpstreamPool } from '../../src/transport/grpc/upstream-pool.js';
import { startTcpSwitch } from '../helpers/tcp-switch.js';

const GUARD_MS = 20_000;
const CALL_MS = 10_000;

function request(action: string, params: Record<string, string> = {}, data = ''): UpstreamRequest {
  return {
    sessionId: 's1',
    openid: 'u1',
    action,
    params,
    data: new TextEncoder().encode(data),
    headers: {},
    clientSeqId: 7,
  };
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + GUARD_MS;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function gateCode(code: number) {
  return (e: unknown) => {
    assert.ok(e instanceof GateError, `expected GateError, got ${e}`);
    assert.equal(e.code, code, `${e.message} ${e.detail}`);
    return true;
  };
}

describe('upstream pool over loopback gRPC', { timeout: 60_000 }, () => {
  let demo: DemoUpstreams;
  let pool: UpstreamPool;
  const routes = createRoutingTable();

  before(async () => {
    demo = await startDemoUpstreams({ business: [0, 0] });
    pool = createUpstreamPool(demo.addresses, { healthCheckIntervalMs: 100 });
  });
  after(async () => {
    pool.close();
    await demo.close();
  });

  it('routes actions to the right demo service', async () => {
    for (const [action, service] of [
      ['hello', 'hello'],
      ['calculate', 'zone'],
      ['buy', 'business'],
    ] as const) {
      const before = demo.received.length;
      const params: Record<string, string> =
        action === 'calculate' ? { op: 'mul', a: '6', b: '7' } : { zone: '3' };
      const res = await pool.call(routes.serviceFor(action), request(action, params, 'x'), CALL_MS);
      assert.equal(res.code, 0);
      assert.equal(res.clientSeqId, 7);
      const got = demo.received.slice(before);
      assert.equal(got.length, 1);
      assert.equal(got[0]!.service, service);
      assert.equal(got[0]!.request.action, action);
      assert.equal(got[0]!.request.openid, 'u1');
      if (action === 'hello') {
        assert.equal(res.message, 'welcome');
        assert.equal(res.headers['zone'], '3');
        assert.deepEqual(JSON.parse(dataText(res)), { openid: 'u1' });
      }
      if (action === 'calculate') assert.equal(dataText(res), '42');
      if (action === 'buy') assert.equal(dataText(res), 'x');
    }
  });

  it('round-robins across the addresses of one service', async () => {
    const [a, b] = demo.addresses.business;
    const before = demo.received.length;
    for (let i = 0; i < 6; i++) await pool.call('business', request('buy'), CALL_MS);
    const got = demo.received.slice(before).map((r) => r.address);
    assert.equal(got.filter((x) => x === a).length, 3);
    assert.equal(got.filter((x) => x === b).length, 3);
    for (let i = 1; i < got.length; i++) assert.notEqual(got[i], got[i - 1]);
  });

  it('maps a slow upstream to 504 and a failing one to 502 / 503', async () => {
    await assert.rejects(
      pool.call('business', request('sleep', { ms: '3000' }), 200),
      gateCode(ErrorCode.UPSTREAM_TIMEOUT),
    );
    await assert.rejects(
      pool.call('business', request('fail', { status: 'INTERNAL' }), CALL_MS),
      (e: unknown) => gateCode(ErrorCode.UPSTREAM_ERROR)(e) && /INTERNAL/.test((e as GateError).detail),
    );
    await assert.rejects(
      pool.call('business', request('fail', { status: 'PERMISSION_DENIED' }), CALL_MS),
      (e: unknown) =>
        gateCode(ErrorCode.UPSTREAM_ERROR)(e) && /PERMISSION_DENIED/.test((e as GateError).detail),
    );
    await assert.rejects(
      pool.call('nowhere', request('x'), CALL_MS),
      gateCode(ErrorCode.UPSTREAM_UNAVAILABLE),
    );
    // An answered UNAVAILABLE marks the address unhealthy; the probe restores it.
    await assert.rejects(
      pool.call('hello', request('fail', { status: 'UNAVAILABLE' }), CALL_MS),
      gateCode(ErrorCode.UPSTREAM_UNAVAILABLE),
    );
    await waitFor(() => pool.health()['hello']!.every((e) => e.healthy), 'hello restored');
    const res = await pool.call('business', request('big', { bytes: '100000' }), CALL_MS);
    assert.equal(res.data.length, 100_000);
  });
});

describe('upstream pool health', { timeout: 90_000 }, () => {
  it('skips a dead address, restores it when it comes up, and fails 503 when all are dead', async () => {
    const live = await startDemoUpstreams({ business: 0 });
    // A port this test holds throughout, refusing connections until it is switched on.
    const gate = await startTcpSwitch();
    const dead = gate.address;
    const alive = live.addresses.business[0]!;
    const pool = createUpstreamPool({ business: [alive, dead] }, { healthCheckIntervalMs: 100 });
    let revived: Awaited<ReturnType<typeof startDemoUpstreams>> | undefined;
    try {
      // At most the first call may hit the dead address before it is known dead.
      let failures = 0;
      for (let i = 0; i < 8; i++) {
        try {
          await pool.call('business', request('buy'), CALL_MS);
        } catch (e) {
          gateCode(ErrorCode.UPSTREAM_UNAVAILABLE)(e);
          failures++;
        }
      }
      assert.ok(failures <= 1, `failures: ${failures}`);
      assert.ok(live.received.length >= 7);
      const h = pool.health()['business']!;
      assert.deepEqual(
        h.map((e) => [e.address, e.healthy, e.inflight]),
        [
          [alive, true, 0],
          [dead, false, 0],
        ],
      );

      // Bring the dead address up: the background probe restores it, traffic reaches it.
      revived = await startDemoUpstreams({ business: 0 });
      gate.forward(revived.addresses.business[0]!);
      await waitFor(() => pool.health()['business']![1]!.healthy, 'dead address restored');
      for (let i = 0; i < 4; i++) await pool.call('business', request('buy'), CALL_MS);
      assert.ok(revived.received.length >= 1, 'revived address got traffic');

      // Everything dead: 503 (one address is still tried).
      await live.close();
      gate.refuse();
      await revived.close();
      revived = undefined;
      for (let i = 0; i < 3; i++) {
        await assert.rejects(
          pool.call('business', request('buy'), CALL_MS),
          gateCode(ErrorCode.UPSTREAM_UNAVAILABLE),
        );
      }
      await waitFor(() => pool.health()['business']!.every((e) => !e.healthy), 'all unhealthy');
      await assert.rejects(
        pool.call('business', request('buy'), CALL_MS),
        gateCode(ErrorCode.UPSTREAM_UNAVAILABLE),
      );
    } finally {
      pool.close();
      await live.close();
      await revived?.close();
      await gate.close();
    }
    await assert.rejects(
      pool.call('business', request('buy'), CALL_MS),
      gateCode(ErrorCode.UPSTREAM_UNAVAILABLE),
    );
  });
});
