/**
 * The Gatesvr-Reply header of a NATS push cannot make the gateway publish into
 * its own subjects or the KV/JetStream API, nor break its NATS connection with
 * an invalid subject: such answers are dropped and the pushes still processed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, createInbox, headers, type NatsConnection } from 'nats';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { UnicastPushRequest, UnicastPushResponse } from '../../src/protocol/messages.js';
import { REPLY_HEADER } from '../../src/transport/nats/cluster.js';
import type { PushConsumer } from '../../src/transport/nats/push-consumer.js';
import { connectClient, login, startTestGateway } from '../helpers/gateway.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

describe('Gatesvr-Reply subject restrictions', { timeout: 60_000 }, () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let gw: Gateway;
  const clients: GateClient[] = [];

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    gw = await startTestGateway({
      nats: { url: nats.url, stream: 'GATESVR', subjectPrefix: 'gatesvr', replyPrefix: 'producer' },
      backup: { enabled: false, mode: 'primary', serverId: 'node-r' },
    });
  });

  after(async () => {
    for (const c of clients) c.close();
    await gw?.close().catch(() => {});
    await nc?.close().catch(() => {});
    await nats?.stop();
  });

  it('refused reply subjects publish nothing, the victim gets every push, the connection survives', async () => {
    const victim = await connectClient(gw, 'victim');
    const mallory = await connectClient(gw, 'mallory');
    clients.push(victim, mallory);
    await login(victim, '1');
    await login(mallory, '1');

    const gatewayNc = gw.nats!.nc;
    const statuses: string[] = [];
    void (async () => {
      for await (const s of gatewayNc.status()) statuses.push(String(s.type));
    })();

    // Everything published on the victim's event subject or the lease bucket while under attack.
    const victimEvents: Uint8Array[] = [];
    const reserved: string[] = [];
    let victimPushes = 0;
    const subs = [
      nc.subscribe(`gatesvr.events.${victim.sessionId}`, { callback: (_e, m) => victimEvents.push(m.data) }),
      nc.subscribe('$KV.>', { callback: (_e, m) => reserved.push(m.subject) }),
      nc.subscribe('$JS.API.STREAM.>', { callback: (_e, m) => reserved.push(m.subject) }),
      nc.subscribe('gatesvr.push.openid.victim', { callback: () => victimPushes++ }),
    ];
    await nc.flush();

    const js = nc.jetstream();
    const forged = [
      `gatesvr.events.${victim.sessionId}`,
      '$KV.GATESVR_LEASE.serving',
      '$KV.GATESVR_DIR.x',
      '$JS.API.STREAM.DELETE.GATESVR',
      'gatesvr.push.openid.victim',
      '_INBOX.*',
      'producer',
      'elsewhere.answers',
      'has a space',
      '_INBOX.x\tPUB',
    ];
    const pushesBefore = consumerOf(gw).refusedReplies;
    let n = 0;
    for (const to of forged) {
      await js.publish('gatesvr.push.openid.victim', UnicastPushRequest.encode({ content: `v${n++}` }));
      const h = headers();
      h.set(REPLY_HEADER, to);
      await js.publish('gatesvr.push.openid.mallory', UnicastPushRequest.encode({ content: `m:${to}` }), {
        headers: h,
      });
    }
    await js.publish('gatesvr.push.openid.victim', UnicastPushRequest.encode({ content: `v${n++}` }));

    // Every push was processed: the victim gets its own in order, mallory hers.
    for (let i = 0; i < n; i++) assert.equal((await victim.nextNotify(20_000)).content, `v${i}`);
    for (const to of forged) assert.equal((await mallory.nextNotify(20_000)).content, `m:${to}`);

    // The next push with allowed reply subjects is answered (after every answer above, same connection).
    for (const to of [createInbox(), 'producer.answers.1']) {
      const answer = nc.subscribe(to, { max: 1 });
      await nc.flush();
      const h = headers();
      h.set(REPLY_HEADER, to);
      await js.publish('gatesvr.push.openid.mallory', UnicastPushRequest.encode({ content: 'ok' }), {
        headers: h,
      });
      for await (const m of answer) assert.equal(UnicastPushResponse.decode(m.data).success, true);
      assert.equal((await mallory.nextNotify(20_000)).content, 'ok');
    }
    await nc.flush();

    assert.equal(consumerOf(gw).refusedReplies - pushesBefore, forged.length);
    assert.deepEqual(reserved, []);
    assert.equal(victimPushes, n, 'only the test published pushes for the victim');
    // Only the gateway's own session events (JSON records), never a push answer.
    for (const d of victimEvents) assert.equal(d[0], '{'.charCodeAt(0));
    assert.ok(!gatewayNc.isClosed());
    assert.ok(!statuses.includes('disconnect') && !statuses.includes('reconnect'), statuses.join(','));
    for (const s of subs) s.unsubscribe();
  });
});

function consumerOf(gw: Gateway): PushConsumer {
  return (gw.nats as unknown as { pushes: PushConsumer }).pushes;
}
