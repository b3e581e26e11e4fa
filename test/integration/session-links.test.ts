/**
 * A session does not keep the links of connections it is done with: after 100
 * resumes over real QUIC, and after a takeover, its actor holds one link.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Gateway } from '../../src/gateway.js';
import { CloseCode, PushType } from '../../src/protocol/codes.js';
import { StartResponse } from '../../src/protocol/messages.js';
import { startTestGateway, waitFor } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';

describe('session links', { timeout: 120_000 }, () => {
  let gw: Gateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw.close();
  });

  it('100 resumes leave the actor with at most one link; a takeover closes the old one with 0x11', async () => {
    let sessionId = '';
    for (let i = 0; i <= 100; i++) {
      const c = await RawClient.connect(gw);
      c.start('links');
      const p = await c.next();
      assert.equal(p.type, PushType.START_RESP);
      const resp = StartResponse.decode(p.payload);
      assert.equal(resp.resumed, i > 0);
      if (i === 0) sessionId = resp.sessionId;
      assert.equal(resp.sessionId, sessionId);
      const actor = gw.system.findByOpenid('links')!;
      assert.ok(actor.linkCount <= 2, `resume ${i}: ${actor.linkCount} links`);
      c.close();
      await waitFor(() => actor.state.attached === false, 10_000, 'detached');
      assert.ok(actor.linkCount <= 1, `after resume ${i}: ${actor.linkCount} links`);
    }
    const actor = gw.system.findByOpenid('links')!;
    assert.equal(actor.state.resumes, 100);
    assert.equal(actor.linkCount, 0);

    const a = await RawClient.connect(gw);
    a.start('links');
    await a.next();
    const b = await RawClient.connect(gw);
    b.start('links');
    assert.equal(StartResponse.decode((await b.next()).payload).resumed, true);
    assert.equal((await a.closed()).code, CloseCode.SESSION_TAKEN_OVER);
    await waitFor(() => actor.linkCount === 1, 10_000, 'old link dropped');
    b.close();
    await waitFor(() => actor.linkCount === 0, 10_000, 'detached link dropped');
  });
});
