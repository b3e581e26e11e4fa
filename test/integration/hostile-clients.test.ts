/**
 * Slow, idle and misbehaving clients over real QUIC: start_timeout, bad frames,
 * idle and session timeouts, pipelining while authenticating, and a client that
 * stops reading (cut off with 0x03, its session kept for a resume). Another
 * session keeps working every time.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { CloseCode, ErrorCode, NotifySyncHint, PushType, RequestType } from '../../src/protocol/codes.js';
import { ErrorMessage, NotifyMessage, StartResponse } from '../../src/protocol/messages.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';

const gateways: Gateway[] = [];
const clients: GateClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const g of gateways) await g.close();
});

async function setup(
  patch: Parameters<typeof startTestGateway>[0],
  opts: Parameters<typeof startTestGateway>[1] = {},
) {
  const gw = await startTestGateway(patch, opts);
  gateways.push(gw);
  const good = await connectClient(gw, `good-${gateways.length}`);
  clients.push(good);
  await login(good);
  const stillWorks = async () => assert.equal((await good.request('echo', {}, Buffer.from('ok'))).code, 0);
  return { gw, good, stillWorks };
}

describe('hostile and slow clients', () => {
  it('no START within start_timeout -> close 0x01; a first frame other than START -> close 0x01', async () => {
    const { gw, stillWorks } = await setup({ server: { startTimeoutMs: 300 } });
    const silent = await RawClient.connect(gw);
    const info = await silent.closed();
    assert.equal(info.code, CloseCode.PROTOCOL_ERROR);
    assert.equal(info.isApp, true);
    const early = await RawClient.connect(gw);
    early.send({ type: RequestType.HEARTBEAT });
    assert.equal((await early.closed()).code, CloseCode.PROTOCOL_ERROR);
    await stillWorks();
  });

  it('bad frames: length 0 -> 400, over max_frame_bytes -> 413, then close 0x01; garbage -> 0x01', async () => {
    const { gw, stillWorks } = await setup({ server: { maxFrameBytes: 1024 } });
    const cases: Array<{ bytes: number[] | Buffer; code?: number }> = [
      { bytes: [0, 0, 0, 0], code: ErrorCode.BAD_REQUEST },
      { bytes: [0, 0, 4, 1, 1, 2, 3], code: ErrorCode.FRAME_TOO_LARGE },
      { bytes: [0xff, 0xff, 0xff, 0xff], code: ErrorCode.FRAME_TOO_LARGE },
      { bytes: [0, 0, 0, 3, 0xff, 0xff, 0xff] },
    ];
    for (const c of cases) {
      const r = await RawClient.connect(gw);
      r.conn.write(Buffer.from(c.bytes));
      const info = await r.closed();
      assert.equal(info.code, CloseCode.PROTOCOL_ERROR, `case ${JSON.stringify(c.bytes)}`);
      if (c.code !== undefined) {
        const err = r.pushes.find((p) => p.type === PushType.ERROR);
        assert.ok(err, 'an ERROR frame came before the close');
        assert.equal(ErrorMessage.decode(err.payload).errorCode, c.code);
      }
    }
    // The same after a good START: the session is detached, not harmed.
    const r = await RawClient.connect(gw);
    r.start('bad-after-start');
    await r.nextWhere((p) => p.type === PushType.START_RESP);
    r.conn.write(Buffer.from([0, 0, 0, 2, 0xff, 0xff]));
    assert.equal((await r.closed()).code, CloseCode.PROTOCOL_ERROR);
    assert.ok(gw.system.findByOpenid('bad-after-start'), 'session kept for a resume');
    await waitFor(() => gw.listener.connectionCount === 1, 10_000, 'only the good connection left');
    await stillWorks();
  });

  it('idle_timeout: a silent QUIC connection is dropped and its session detached', async () => {
    const { gw, good, stillWorks } = await setup({ server: { idleTimeoutMs: 600 } });
    // The good session speaks often enough to stay (its QUIC keep-alive is 10 s).
    const busy = setInterval(() => good.heartbeat().catch(() => {}), 100);
    try {
      const r = await RawClient.connect(gw, { keepAliveMs: 0 });
      r.start('idle-one');
      await r.nextWhere((p) => p.type === PushType.START_RESP);
      const info = await r.closed();
      assert.equal(info.reason, 'idle_timeout');
      await waitFor(() => gw.listener.connectionCount === 1, 10_000, 'server dropped it');
      const s = gw.system.findByOpenid('idle-one');
      assert.ok(s && !s.state.attached);
      await stillWorks();
    } finally {
      clearInterval(busy);
    }
  });

  it('session_timeout: a session with no frame is closed (code 0) even if QUIC stays alive', async () => {
    const { gw } = await setup({ server: { sessionTimeoutMs: 800 } });
    const r = await RawClient.connect(gw, { keepAliveMs: 100 });
    r.start('quiet-one');
    await r.nextWhere((p) => p.type === PushType.START_RESP);
    const info = await r.closed();
    assert.equal(info.code, CloseCode.NO_ERROR);
    assert.equal(info.isApp, true);
    assert.equal(info.reason, 'session_timeout');
    await waitFor(() => gw.system.findByOpenid('quiet-one') === undefined, 10_000, 'session freed');
    // The gateway still serves: a new session is started. (Not the setup's session: it is subject to the
    // same 800 ms timeout, and a loaded machine may let it lapse before it speaks.)
    const fresh = await connectClient(gw, 'speaks-after');
    clients.push(fresh);
    assert.notEqual(fresh.sessionId, '');
  });

  it('frames pipelined behind START while authenticating are bounded (close 0x03)', async () => {
    const { gw, stillWorks } = await setup(
      {},
      {
        authenticator: {
          mode: 'slow',
          verify: () => new Promise((resolve) => setTimeout(() => resolve({ ok: true }), 400)),
        },
      },
    );
    const r = await RawClient.connect(gw);
    r.start('pipeliner');
    for (let i = 0; i < 1000; i++) r.send({ type: RequestType.HEARTBEAT });
    const info = await r.closed();
    assert.equal(info.code, CloseCode.OVERLOADED);
    // A few pipelined frames are fine.
    const ok = await RawClient.connect(gw);
    ok.start('pipeliner-ok');
    for (let i = 0; i < 10; i++) ok.send({ type: RequestType.HEARTBEAT });
    const resp = await ok.nextWhere((p) => p.type === PushType.START_RESP);
    assert.equal(StartResponse.decode(resp.payload).success, true);
    await ok.nextWhere((p) => p.type === PushType.HEARTBEAT_RESP);
    ok.conn.close(0);
    await stillWorks();
  });

  it('a client that stops reading is cut off with 0x03, not buffered forever; its pushes wait for a resume', async () => {
    const { gw, stillWorks } = await setup({ server: { maxQueue: 2000, maxQueueBytes: 64 * 1024 * 1024 } });
    const r = await RawClient.connect(gw);
    r.start('no-reader');
    await r.nextWhere((p) => p.type === PushType.START_RESP);
    // From now on the client never reads its stream: QUIC flow control grants no more credit.
    (r.conn as unknown as { readSession: () => void }).readSession = () => {};
    const session = gw.system.findByOpenid('no-reader')!;
    const payload = NotifyMessage.encode({ msgType: 't', content: 'x'.repeat(32 * 1024) });
    let accepted = 0;
    let peakBuffered = 0;
    const conns = () => (gw.listener as unknown as { conns: Set<{ conn: { bufferedBytes: number } }> }).conns;
    // 32 KiB pushes until the gateway gives up on the connection (bounded loop: 1500 x 32 KiB = 48 MiB).
    for (let i = 0; i < 1500 && session.state.attached; i++) {
      const res = await gw.system.push(
        { kind: 'session', id: session.sessionId },
        payload,
        NotifySyncHint.IMMEDIATELY,
        0,
      );
      if (res.ok) accepted++;
      for (const c of conns()) peakBuffered = Math.max(peakBuffered, c.conn.bufferedBytes);
      if (i % 20 === 0) await new Promise((res) => setImmediate(res));
    }
    const info = await r.closed();
    assert.equal(info.code, CloseCode.OVERLOADED);
    assert.equal(info.isApp, true);
    assert.ok(accepted > 0 && accepted < 1500, `accepted ${accepted}`);
    // The cut-off happened at maxBufferedBytes (8 MiB) plus at most one turn of writes.
    assert.ok(peakBuffered <= 8 * 1024 * 1024 + 64 * 1024, `peak ${peakBuffered}`);
    await waitFor(() => gw.quic.connectionCount === 1, 20_000, 'connection released');
    const s = gw.system.findByOpenid('no-reader');
    assert.ok(s && !s.state.attached, 'session detached, kept for a resume');
    await stillWorks();
  });
});
