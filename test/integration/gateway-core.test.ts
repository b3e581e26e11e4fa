/**
 * The core gateway over real QUIC with real gRPC demo upstreams on loopback
 * (docs/protocol.md sections 1, 2, 4, 5, 6).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import { startDemoUpstreams } from '../../src/demo/upstreams.js';
import type { GateError } from '../../src/errors.js';
import type { Gateway } from '../../src/gateway.js';
import { CloseCode, ErrorCode, PushType } from '../../src/protocol/codes.js';
import { ErrorMessage, HeartbeatResponse, StartResponse } from '../../src/protocol/messages.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';

describe('core gateway', () => {
  let gw: Gateway;
  before(async () => {
    gw = await startTestGateway({ server: { startTimeoutMs: 300, maxFrameBytes: 4096 } as never });
  });
  after(async () => {
    await gw.close();
  });

  const raw = () => RawClient.connect(gw);
  /** A raw client past START, its START_RESP read. */
  const started = async (openid: string) => {
    const c = await raw();
    c.start(openid);
    await c.next();
    return c;
  };

  it('answers START with a session id, heartbeat interval and seq 0', async () => {
    const c = await raw();
    c.start('core-start', { msgId: 42 });
    const p = await c.next();
    assert.equal(p.type, PushType.START_RESP);
    assert.equal(p.seqId, 0);
    assert.equal(p.msgId, 42);
    const r = StartResponse.decode(p.payload);
    assert.equal(r.success, true);
    assert.match(r.sessionId, /^[0-9a-f-]{36}$/);
    assert.equal(r.heartbeatInterval, 30);
    assert.equal(r.resumed, false);
    assert.ok(r.connectionId.length > 0);
    c.close();
  });

  it('echoes HEARTBEAT with the client timestamp and the same msg_id', async () => {
    const c = await started('core-hb');
    c.heartbeat(77, 123456);
    const p = await c.next();
    assert.equal(p.type, PushType.HEARTBEAT_RESP);
    assert.equal(p.msgId, 77);
    assert.equal(p.seqId, 0);
    const hb = HeartbeatResponse.decode(p.payload);
    assert.equal(hb.clientTimestamp, 123456);
    assert.ok(hb.serverTimestamp > 0);
    c.close();
  });

  it('refuses BUSINESS before login with a reliable ERROR 403 carrying client_seq and msg_id', async () => {
    const c = await started('core-403');
    c.business(1, 'echo', {}, 555);
    const p = await c.next();
    assert.equal(p.type, PushType.ERROR);
    assert.equal(p.msgId, 555);
    assert.equal(p.seqId, 1);
    assert.equal(p.headers.client_seq, '1');
    assert.equal(ErrorMessage.decode(p.payload).errorCode, ErrorCode.NOT_LOGGED_IN);
    c.close();
  });

  it('logs in through the hello service and becomes NORMAL with the zone', async () => {
    const client = await connectClient(gw, 'core-login');
    const a = await client.request('hello', { zone: '4' });
    assert.equal(a.code, 0);
    assert.equal(a.headers.zone, '4');
    const actor = gw.system.findByOpenid('core-login')!;
    assert.equal(actor.state.phase, 'normal');
    assert.equal(actor.state.zone, 4);
    assert.deepEqual(actor.stateValue, { active: { phase: 'normal', link: 'attached' } });
    await client.stop();
  });

  it('routes each action to the right upstream service', async () => {
    const client = await connectClient(gw, 'core-route');
    await login(client, '2');
    const expect: Array<[string, string]> = [
      ['status', 'hello'],
      ['data_sync', 'hello'],
      ['echo', 'zone'],
      ['calculate', 'zone'],
      ['time', 'zone'],
      ['Zone', 'zone'],
      ['buy_item', 'business'],
      ['anything_else', 'business'],
    ];
    for (const [action, service] of expect) {
      const a = await client.request(action, { op: 'add', a: '1', b: '2' });
      const got = gw.demo!.received.filter(
        (r) => r.request.openid === 'core-route' && r.request.action === action,
      );
      assert.equal(got.length, 1, `${action} reached an upstream once`);
      assert.equal(got[0]!.service, service, `${action} -> ${service}`);
      assert.equal(got[0]!.request.clientSeqId, Number(a.headers.client_seq));
      assert.equal(got[0]!.request.sessionId, client.sessionId);
    }
    const calc = await client.request('calculate', { op: 'mul', a: '6', b: '7' });
    assert.equal(Buffer.from(calc.data).toString(), '42');
    await client.stop();
  });

  for (const [name, bytes] of [
    ['a first frame that is not START', null],
    ['a zero length', Buffer.from([0, 0, 0, 0])],
    ['a length over max_frame_bytes', Buffer.from([0, 0, 0x20, 0])],
    ['an undecodable ClientRequest', Buffer.from([0, 0, 0, 3, 0xff, 0xff, 0xff])],
  ] as const) {
    it(`closes with PROTOCOL_ERROR on ${name}; another session is unaffected`, async () => {
      const bystander = await connectClient(gw, `bystander-${name}`);
      await login(bystander);
      const c = await raw();
      if (bytes === null) c.heartbeat(1, 1);
      else c.writeRaw(bytes);
      const info = await c.closed();
      assert.equal(info.code, CloseCode.PROTOCOL_ERROR);
      assert.equal(info.isApp, true);
      const a = await bystander.request('echo', {}, Buffer.from('still here'));
      assert.equal(Buffer.from(a.data).toString(), 'still here');
      await bystander.stop();
    });
  }

  it('sends ERROR 413 before closing on an oversize frame', async () => {
    const c = await started('core-413');
    c.writeRaw(Buffer.from([0, 1, 0, 0]));
    const p = await c.next();
    assert.equal(p.type, PushType.ERROR);
    assert.equal(p.seqId, 0);
    assert.equal(ErrorMessage.decode(p.payload).errorCode, ErrorCode.FRAME_TOO_LARGE);
    assert.equal((await c.closed()).code, CloseCode.PROTOCOL_ERROR);
  });

  it('closes with PROTOCOL_ERROR on an undecodable payload after START', async () => {
    const c = await started('core-badpayload');
    c.send({ msgId: 3, seqId: 1, type: 4, payload: Buffer.from([0x0a, 0xff]) });
    assert.equal((await c.closed()).code, CloseCode.PROTOCOL_ERROR);
  });

  it('closes a connection that sends no START within start_timeout', async () => {
    const c = await raw();
    const info = await c.closed();
    assert.equal(info.code, CloseCode.PROTOCOL_ERROR);
  });

  it('STOP closes the session and the connection with code 0', async () => {
    const client = await connectClient(gw, 'core-stop');
    await login(client);
    const closed = new Promise<number>((resolve) => client.onClose((i) => resolve(i.code)));
    await client.stop();
    assert.equal(await closed, CloseCode.NO_ERROR);
    await waitFor(() => gw.system.findByOpenid('core-stop') === undefined, 5000, 'session removed');
  });

  it('a dropped connection only detaches the session', async () => {
    const client = await connectClient(gw, 'core-detach');
    await login(client);
    client.close(0);
    await waitFor(() => gw.system.findByOpenid('core-detach')?.state.attached === false, 5000, 'detached');
    assert.equal(gw.system.findByOpenid('core-detach')!.state.phase, 'normal');
  });

  it('answers BUSINESS seq 0 with ERROR 400', async () => {
    const c = await started('core-seq0');
    c.business(0, 'hello', {}, 9);
    const p = await c.next();
    assert.equal(p.type, PushType.ERROR);
    assert.equal(p.msgId, 9);
    assert.equal(ErrorMessage.decode(p.payload).errorCode, ErrorCode.BAD_REQUEST);
    c.close();
  });

  it('upstream errors map to ERROR 502', async () => {
    const client = await connectClient(gw, 'core-502');
    await login(client);
    await assert.rejects(
      client.request('fail', { status: 'INTERNAL' }),
      (e: GateError) => e.code === ErrorCode.UPSTREAM_ERROR,
    );
    await client.stop();
  });
});

describe('upstream failures', () => {
  it('answers 503 when the upstream is down, and the session goes on', async () => {
    const demo = await startDemoUpstreams();
    const gw = await startTestGateway({
      upstreamServices: { hello: demo.addresses.hello, zone: demo.addresses.zone, business: ['127.0.0.1:1'] },
      overloadProtection: { upstreamTimeoutMs: 300 } as never,
    });
    try {
      const client = await connectClient(gw, 'fail-user');
      await login(client);
      await assert.rejects(
        client.request('buy'),
        (e: GateError) => e.code === ErrorCode.UPSTREAM_UNAVAILABLE,
      );
      // The session goes on: the next request is answered.
      const a = await client.request('echo', {}, Buffer.from('ok'));
      assert.equal(a.code, 0);
      await client.stop();
    } finally {
      await gw.close();
      await demo.close();
    }
  });

  it('answers 504 when the upstream is slower than upstream_timeout', async () => {
    const gw = await startTestGateway({ overloadProtection: { upstreamTimeoutMs: 200 } as never });
    try {
      const client: GateClient = await connectClient(gw, 'slow-user');
      await login(client);
      await assert.rejects(
        client.request('sleep', { ms: '2000' }),
        (e: GateError) => e.code === ErrorCode.UPSTREAM_TIMEOUT,
      );
      await client.stop();
    } finally {
      await gw.close();
    }
  });
});
