/**
 * docs/protocol.md section 3: an ACK (or a resuming START's last_acked_seq_id) above
 * the highest seq sent is clamped, so pushes queued while detached and never
 * sent survive any value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import { PushType } from '../../src/protocol/codes.js';
import { NotifyMessage, type ServerPush, StartResponse } from '../../src/protocol/messages.js';
import { startTestGateway, waitFor } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';

const content = (p: ServerPush) => NotifyMessage.decode(p.payload).content;

describe('ACK clamping', () => {
  let gw: Gateway;
  let push: PushClient;
  before(async () => {
    gw = await startTestGateway();
    push = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
  });
  after(async () => {
    push.close();
    await gw.close();
  });

  it('a resume with last_acked_seq_id = 2^53-1 still receives every push queued while detached', async () => {
    const c = await RawClient.connect(gw);
    c.start('clamp');
    const first = StartResponse.decode((await c.next()).payload);
    c.business(1, 'hello', { zone: '1' });
    assert.equal((await c.next()).type, PushType.BUSINESS_DATA); // seq 1
    for (const x of ['a', 'b']) await push.push({ targetType: 'openid', targetId: 'clamp', content: x });
    assert.deepEqual([(await c.next()).seqId, (await c.next()).seqId], [2, 3]);
    c.ack(1);
    c.close();
    await waitFor(() => gw.system.findByOpenid('clamp')?.state.attached === false, 10_000, 'detached');
    for (const x of ['x', 'y', 'z']) {
      const r = await push.push({ targetType: 'openid', targetId: 'clamp', content: x });
      assert.equal(r.success, true, r.message);
    }

    const c2 = await RawClient.connect(gw);
    c2.start('clamp', { lastAckedSeqId: Number.MAX_SAFE_INTEGER });
    const resp = StartResponse.decode((await c2.next()).payload);
    assert.deepEqual([resp.resumed, resp.sessionId], [true, first.sessionId]);
    const got = [await c2.next(), await c2.next(), await c2.next()];
    assert.deepEqual(
      got.map((p) => [p.seqId, content(p)]),
      [
        [4, 'x'],
        [5, 'y'],
        [6, 'z'],
      ],
    );
    // An ACK far above what was sent acknowledges only what was sent.
    c2.ack(Number.MAX_SAFE_INTEGER);
    await waitFor(() => gw.system.findByOpenid('clamp')?.state.queue.lastAcked === 6, 10_000, 'acked');
    await push.push({ targetType: 'openid', targetId: 'clamp', content: 'after' });
    const later = await c2.next();
    assert.deepEqual([later.seqId, content(later)], [7, 'after']);
    c2.close();
  });
});
