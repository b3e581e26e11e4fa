/**
 * docs/protocol.md section 1 (v1.1): before a successful START_RESP, a frame longer
 * than 16 KiB is a protocol error, refused from its length prefix (ERROR 413,
 * close 0x01) without buffering its body; afterwards max_frame_bytes applies.
 * Another session is unaffected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { CloseCode, ErrorCode, PushType, RequestType } from '../../src/protocol/codes.js';
import { BusinessResponse, ErrorMessage, StartRequest, StartResponse } from '../../src/protocol/messages.js';
import { PRE_START_MAX_FRAME_BYTES } from '../../src/transport/client-listener.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';

describe('pre-START frame bound', () => {
  let gw: Gateway;
  let good: GateClient;
  const stillWorks = async () => assert.equal((await good.request('echo', {}, Buffer.from('ok'))).code, 0);

  before(async () => {
    gw = await startTestGateway(); // max_frame_bytes: 1 MiB
    good = await connectClient(gw, 'bound-good');
    await login(good);
  });
  after(async () => {
    good?.close();
    await gw?.close();
  });

  it('a 1 MiB length prefix then trickled bytes before START: ERROR 413, close 0x01, nothing buffered', async () => {
    assert.equal(gw.config.server.maxFrameBytes, 1 << 20);
    const r = await RawClient.connect(gw);
    r.writeRaw(Uint8Array.of(0, 0x10, 0, 0)); // 1 MiB
    const piece = new Uint8Array(400).fill(0x41);
    for (let sent = 0; sent < 64 * 1024; sent += piece.length) r.writeRaw(piece);
    const info = await r.closed();
    assert.equal(info.code, CloseCode.PROTOCOL_ERROR);
    const err = r.pushes.find((p) => p.type === PushType.ERROR);
    assert.ok(err, 'ERROR before the close');
    assert.equal(ErrorMessage.decode(err.payload).errorCode, ErrorCode.FRAME_TOO_LARGE);
    assert.ok(
      gw.listener.preStartPendingHighWater <= PRE_START_MAX_FRAME_BYTES + 4,
      `held ${gw.listener.preStartPendingHighWater} bytes before START_RESP`,
    );
    await stillWorks();
  });

  it('a START just under 16 KiB is served; after START_RESP a 100 KiB frame is fine', async () => {
    const r = await RawClient.connect(gw);
    const padding = { pad: 'p'.repeat(PRE_START_MAX_FRAME_BYTES - 200) };
    r.send({
      type: RequestType.START,
      headers: padding,
      payload: StartRequest.encode({ openid: 'bound-big', authToken: '', lastAckedSeqId: 0 }),
    });
    const resp = await r.next();
    assert.equal(resp.type, PushType.START_RESP);
    assert.equal(StartResponse.decode(resp.payload).success, true);
    r.business(1, 'hello', { zone: '1' });
    assert.equal((await r.next()).type, PushType.BUSINESS_DATA);
    const data = Buffer.alloc(100 * 1024, 7);
    r.business(2, 'echo', {}, 102, data);
    const echo = await r.next();
    assert.equal(echo.type, PushType.BUSINESS_DATA);
    assert.equal(BusinessResponse.decode(echo.payload).data.length, data.length);
    assert.equal(r.closeInfo, null);
    r.close();
    await stillWorks();
  });

  it('a 17 KiB frame pipelined behind START while it is authenticated (no START_RESP yet) -> 0x01', async () => {
    // START is held in authentication until the test releases it, so START_RESP cannot have left.
    const held: Array<() => void> = [];
    const slow = await startTestGateway(
      {},
      {
        authenticator: {
          mode: 'held',
          verify: (openid) =>
            new Promise((resolve) => {
              if (openid === 'bound-held') held.push(() => resolve({ ok: true }));
              else resolve({ ok: true });
            }),
        },
      },
    );
    try {
      const r = await RawClient.connect(slow);
      r.start('bound-held');
      await waitFor(() => held.length === 1, 10_000, 'START in authentication');
      r.business(1, 'hello', { zone: '1', pad: 'x'.repeat(17 * 1024) });
      assert.equal((await r.closed()).code, CloseCode.PROTOCOL_ERROR);
      assert.equal(
        r.pushes.some((p) => p.type === PushType.START_RESP),
        false,
      );
      assert.equal(held.length, 1);
      for (const release of held) release();
      // The same frame once START_RESP is in is served.
      const ok = await RawClient.connect(slow);
      ok.start('bound-after');
      assert.equal((await ok.next()).type, PushType.START_RESP);
      ok.business(1, 'hello', { zone: '1', pad: 'x'.repeat(17 * 1024) });
      assert.equal((await ok.next()).type, PushType.BUSINESS_DATA);
      ok.close();
      await stillWorks();
    } finally {
      await slow.close();
    }
  });
});
