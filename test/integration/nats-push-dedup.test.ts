/**
 * One de-duplication path for gRPC push_id and NATS Nats-Msg-Id (v1.1), on a
 * private nats-server -js: a NATS push whose Nats-Msg-Id was already accepted,
 * through gRPC or through an earlier NATS message the stream's own duplicate
 * window no longer remembers, is delivered once. The producer's answers
 * (Gatesvr-Reply) show each push was applied before the next step.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, createInbox, headers, type NatsConnection, nanos } from 'nats';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import { UnicastPushRequest, UnicastPushResponse } from '../../src/protocol/messages.js';
import { REPLY_HEADER } from '../../src/transport/nats/cluster.js';
import {
  connectClient,
  login,
  natsPatch,
  receivesOnce as receivesOnceHelper,
  startTestGateway,
} from '../helpers/gateway.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

const PUSH_STREAM = 'GATESVR_PUSH';

describe('NATS pushes share the push_id de-duplication', { timeout: 90_000 }, () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let gw: Gateway;
  let pusher: PushClient;
  let dave: GateClient;
  let replies = 0;

  /** Publish a push for dave with `msgID`; resolves with the stream's ack and the gateway's answer. */
  const publish = async (content: string, msgID: string) => {
    const to = `${createInbox()}.${++replies}`;
    const sub = nc.subscribe(to, { max: 1 });
    const h = headers();
    h.set(REPLY_HEADER, to);
    const ack = await nc
      .jetstream()
      .publish('gatesvr.push.openid.dave', UnicastPushRequest.encode({ content }), { msgID, headers: h });
    return {
      ack,
      answer: async () => {
        for await (const m of sub) return UnicastPushResponse.decode(m.data);
        throw new Error('no answer');
      },
    };
  };

  /** dave's next notify is `content`, and the one after it a fresh marker. */
  const receivesOnce = (content: string, marker: string) =>
    receivesOnceHelper(dave, pusher, 'dave', content, marker);

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    gw = await startTestGateway({ server: { maxFrameBytes: 4096 }, ...natsPatch(nats.url, 'node-dedup') });
    pusher = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
    dave = await connectClient(gw, 'dave');
    await login(dave, '2');
  });

  after(async () => {
    dave?.close();
    pusher?.close();
    await gw?.close().catch(() => {});
    await nc?.close().catch(() => {});
    await nats?.stop();
  });

  it('a gRPC push with push_id X, then a NATS push with Nats-Msg-Id X: delivered once', async () => {
    const first = await pusher.push({
      targetType: 'openid',
      targetId: 'dave',
      content: 'via-grpc',
      pushId: 'shared-1',
    });
    assert.equal(first.success, true, first.message);
    const p = await publish('via-nats', 'shared-1');
    assert.equal(p.ack.duplicate, false, 'the stream itself never saw this id');
    const answer = await p.answer();
    assert.equal(answer.success, true);
    assert.equal(answer.message, first.message, 'answered with the first seq');
    await receivesOnce('via-grpc', 'marker-1');
  });

  it('a NATS push republished after the stream duplicate window: delivered once', async () => {
    // A short stream duplicate window, so the republish below is stored again.
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(PUSH_STREAM);
    await jsm.streams.update(PUSH_STREAM, { ...info.config, duplicate_window: nanos(100) });

    const p1 = await publish('nats-once', 'n-1');
    assert.equal(p1.ack.duplicate, false);
    const a1 = await p1.answer();
    assert.equal(a1.success, true, a1.message);
    // Republish until the stream stores it again (its own window has passed).
    let p2 = await publish('nats-again', 'n-1');
    while (p2.ack.duplicate) {
      await new Promise((r) => setTimeout(r, 50));
      p2 = await publish('nats-again', 'n-1');
    }
    assert.ok(p2.ack.seq > p1.ack.seq);
    const a2 = await p2.answer();
    assert.deepEqual(a2, a1);
    await receivesOnce('nats-once', 'marker-2');
  });

  it('a NATS push over max_frame_bytes is answered PAYLOAD_TOO_LARGE; its id can be retried', async () => {
    const big = await publish('x'.repeat(5000), 'big-1');
    const refused = await big.answer();
    assert.equal(refused.success, false);
    assert.equal(refused.errorCode, 'PAYLOAD_TOO_LARGE');
    const grpc = await pusher.push({
      targetType: 'openid',
      targetId: 'dave',
      content: 'fits',
      pushId: 'big-1',
    });
    assert.equal(grpc.success, true, grpc.message);
    await receivesOnce('fits', 'marker-3');
  });

  it('without Nats-Msg-Id or push_id every NATS message is a push of its own', async () => {
    const js = nc.jetstream();
    await js.publish('gatesvr.push.openid.dave', UnicastPushRequest.encode({ content: 'plain' }));
    await js.publish('gatesvr.push.openid.dave', UnicastPushRequest.encode({ content: 'plain' }));
    assert.equal((await dave.nextNotify()).content, 'plain');
    assert.equal((await dave.nextNotify()).content, 'plain');
  });
});
