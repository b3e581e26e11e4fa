/**
 * The SDK's automatic reconnect (autoResume, full-jitter backoff, address
 * rotation) against a real gateway: the gateway drops the client's connection
 * while pushes are accepted and a request is in flight; the client reconnects
 * by itself, resumes the same session and has every accepted push exactly once,
 * in order, and the answer to its request.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import type { GateClient, ReconnectInfo } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import { connectClient, login, notifyContents, startTestGateway, waitFor } from '../helpers/gateway.js';

describe('SDK reconnect with backoff', () => {
  let gw: Gateway;
  let push: PushClient;
  before(async () => {
    gw = await startTestGateway({ server: { resumeWindowMs: 60_000 } as never });
    push = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
  });
  after(async () => {
    push.close();
    await gw.close();
  });

  /** What the client delivers and each of its reconnects, from now on. */
  const track = (client: GateClient) => {
    const reconnects: ReconnectInfo[] = [];
    client.onReconnect((info) => reconnects.push(info));
    return { delivered: notifyContents(client), reconnects };
  };

  const pushTo = async (openid: string, content: string) => {
    const r = await push.push({ targetType: 'openid', targetId: openid, content });
    assert.equal(r.success, true, `push ${content}: ${r.errorCode} ${r.message}`);
  };

  it('the gateway closes the connection: the client resumes by itself, nothing lost or repeated', async () => {
    const openid = 'sdk-rc-1';
    const client = await connectClient(gw, openid, {
      autoResume: true,
      reconnectMinMs: 50,
      reconnectMaxMs: 500,
    });
    try {
      await login(client);
      const sessionId = client.sessionId;
      const { delivered, reconnects } = track(client);

      const accepted: string[] = [];
      for (let i = 0; i < 20; i++) {
        await pushTo(openid, `a${i}`);
        accepted.push(`a${i}`);
      }
      await waitFor(() => delivered.length === 20, 10_000, 'first 20 pushes');

      const actor = gw.system.findByOpenid(openid)!;
      const link = actor.linkId;
      const conn = client.connection;
      // The gateway drops the link (close 0x12); the session stays, detached.
      actor.send({ type: 'SHUTDOWN' });
      await waitFor(() => conn?.closed === true, 10_000, 'connection closed by the gateway');

      // Accepted while detached (or while the client reconnects): queued for the resume.
      const answer = client.request('echo', {}, Buffer.from('across the drop'));
      for (let i = 0; i < 20; i++) {
        await pushTo(openid, `b${i}`);
        accepted.push(`b${i}`);
      }

      await waitFor(
        () => reconnects.length === 1 && actor.state.attached && actor.linkId !== link,
        15_000,
        'automatic resume',
      );
      assert.equal(Buffer.from((await answer).data).toString(), 'across the drop');
      for (let i = 0; i < 20; i++) {
        await pushTo(openid, `c${i}`);
        accepted.push(`c${i}`);
      }
      await waitFor(() => delivered.length >= accepted.length, 15_000, 'every accepted push');

      assert.deepEqual(delivered, accepted, 'exactly once, in order');
      assert.equal(client.sessionId, sessionId, 'same session');
      assert.equal(reconnects[0]!.resumed, true);
      assert.ok(actor.state.resumes >= 1);
      await client.stop();
    } finally {
      client.close();
    }
  });

  it('a failed attempt moves to the next address and backs off, then resumes on a live one', async () => {
    // A black hole: a bound UDP port that never answers (a gateway that died), so the
    // attempt sent there fails by connect timeout and the next goes back to the live gateway.
    const hole = dgram.createSocket('udp4');
    let holeDatagrams = 0;
    hole.on('message', () => holeDatagrams++);
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    const openid = 'sdk-rc-2';
    const client = await connectClient(gw, openid, {
      addresses: [{ host: '127.0.0.1', port: hole.address().port }],
      autoResume: true,
      reconnectMinMs: 20,
      reconnectMaxMs: 200,
      connectTimeoutMs: 1_000,
    });
    try {
      await login(client);
      const sessionId = client.sessionId;
      const { delivered, reconnects } = track(client);

      const actor = gw.system.findByOpenid(openid)!;
      actor.send({ type: 'SHUTDOWN' }); // 0x12: a gateway shutting down is not retried first
      const accepted: string[] = [];
      for (let i = 0; i < 10; i++) {
        await pushTo(openid, `d${i}`);
        accepted.push(`d${i}`);
      }
      await waitFor(() => reconnects.length === 1, 20_000, 'resume after the black hole');
      await waitFor(() => delivered.length >= accepted.length, 15_000, 'every accepted push');

      assert.ok(holeDatagrams > 0, 'an attempt went to the next address');
      assert.ok(reconnects[0]!.attempts >= 1, 'the resume followed a failed attempt');
      assert.equal(reconnects[0]!.resumed, true);
      assert.equal(client.sessionId, sessionId);
      assert.deepEqual(delivered, accepted);
      await client.stop();
    } finally {
      client.close();
      hole.close();
    }
  });
});
