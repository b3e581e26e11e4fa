/**
 * Gateways on a real nats-server -js (started here on a free port): pushes
 * published on the documented NATS subjects reach the right client in order,
 * lifecycle events are published, two active nodes route pushes and move a
 * session on takeover.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, createInbox, headers, type NatsConnection } from 'nats';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import { CloseCode } from '../../src/protocol/codes.js';
import { BroadcastRequest, UnicastPushRequest, UnicastPushResponse } from '../../src/protocol/messages.js';
import { REPLY_HEADER } from '../../src/transport/nats/cluster.js';
import { connectClient, login, natsPatch, startTestGateway, waitFor } from '../helpers/gateway.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

const fail = (what: string) => (err: unknown) => {
  throw new Error(`${what}: ${String(err)}`);
};

describe('gateway on NATS JetStream', { timeout: 90_000 }, () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  const gateways: Gateway[] = [];
  const clients: GateClient[] = [];

  const nodePatch = (serverId: string) => natsPatch(nats.url, serverId);

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
  });

  after(async () => {
    for (const c of clients) c.close();
    for (const g of gateways) await g.close().catch(() => {});
    await nc?.close().catch(() => {});
    await nats?.stop();
  });

  it('a push published on gatesvr.push.openid.<openid> reaches the client in order', async () => {
    const gw = await startTestGateway(nodePatch('node-a'));
    gateways.push(gw);
    assert.equal(gw.serving, true);
    const lifecycle: string[] = [];
    const sub = nc.subscribe('gatesvr.lifecycle.>', {
      callback: (_e, m) =>
        lifecycle.push(`${m.subject}:${(JSON.parse(m.string()) as { openid: string }).openid}`),
    });
    const client = await connectClient(gw, 'alice');
    clients.push(client);
    await login(client, '3');
    const js = nc.jetstream();
    const N = 200;
    const acks = [];
    for (let i = 0; i < N; i++) {
      const data = UnicastPushRequest.encode({ msgType: 'n', content: `m${i}` });
      acks.push(js.publish('gatesvr.push.openid.alice', data, { msgID: `alice-${i}` }));
    }
    // A duplicate publish (same Nats-Msg-Id) is stored once.
    acks.push(
      js.publish('gatesvr.push.openid.alice', UnicastPushRequest.encode({ content: 'm0' }), {
        msgID: 'alice-0',
      }),
    );
    await Promise.all(acks);
    const got: string[] = [];
    for (let i = 0; i < N; i++) got.push((await client.nextNotify(20_000)).content);
    assert.deepEqual(
      got,
      Array.from({ length: N }, (_, i) => `m${i}`),
    );
    await assert.rejects(client.nextNotify(300));

    // The answer to a producer that asks for one.
    // (An _INBOX. subject: the gateway refuses other reply subjects unless nats.reply_prefix allows them.)
    const answers = createInbox();
    const inbox = nc.subscribe(answers, { max: 1 });
    const h = headers();
    h.set(REPLY_HEADER, answers);
    await js.publish(
      'gatesvr.push.openid',
      UnicastPushRequest.encode({ targetType: 'openid', targetId: 'alice', content: 'x' }),
      {
        headers: h,
      },
    );
    for await (const m of inbox) assert.equal(UnicastPushResponse.decode(m.data).success, true);
    assert.equal((await client.nextNotify()).content, 'x');

    // Zone broadcast.
    await js.publish('gatesvr.push.zone.3', BroadcastRequest.encode({ content: 'zone3' }));
    const b = await client.nextNotify();
    assert.equal(b.content, 'zone3');
    assert.equal(b.broadcast, true);
    await waitFor(() => lifecycle.includes('gatesvr.lifecycle.login:alice'), 10_000, 'login event');
    assert.ok(lifecycle.includes('gatesvr.lifecycle.start:alice'));
    sub.unsubscribe();
  });

  it('two active nodes: a push reaches a user on the other node; a START elsewhere moves the session', async () => {
    const a = gateways[0]!;
    const b = await startTestGateway(nodePatch('node-b'));
    gateways.push(b);
    const bob = await connectClient(b, 'bob');
    clients.push(bob);
    await login(bob, '1');
    // gRPC push to node A for a user held by node B.
    const pushA = new PushClient(`127.0.0.1:${a.addresses.grpc.port}`);
    // A learns where bob is from its directory watch; a push routed before that finds no session.
    await waitFor(() => a.nats!.holderOf('bob') === 'node-b', 20_000, 'node A sees bob on node B');
    const r = await pushA.push({ targetType: 'openid', targetId: 'bob', content: 'via-a' });
    assert.equal(r.success, true, r.message);
    assert.equal((await bob.nextNotify()).content, 'via-a', 'gRPC push forwarded from A');
    // A PushStream on A: every push forwarded to B, accepted there in stream order.
    const stream = pushA.stream({ window: 64 });
    const sent = Array.from({ length: 500 }, (_, i) => `fwd-${i}`);
    const answers = await Promise.all(
      sent.map((content) => stream.push({ targetType: 'openid', targetId: 'bob', content })),
    );
    await stream.close();
    for (const ans of answers) assert.equal(ans.success, true, ans.message);
    const forwarded: string[] = [];
    while (forwarded.length < sent.length) forwarded.push((await bob.nextNotify()).content);
    assert.deepEqual(forwarded, sent);
    // NATS push while bob is on B.
    const js = nc.jetstream();
    await js.publish('gatesvr.push.openid.bob', UnicastPushRequest.encode({ content: 'n1' }));
    assert.equal((await bob.nextNotify().catch(fail('NATS push n1 on B'))).content, 'n1');

    // bob starts on node A: B closes its link with 0x11, A resumes the same session.
    const closed = new Promise<number>((resolve) => bob.onClose((info) => resolve(info.code)));
    const sessionId = bob.sessionId;
    const bob2 = await connectClient(a, 'bob', { autoResume: false });
    clients.push(bob2);
    assert.equal(bob2.resumed, true);
    assert.equal(bob2.sessionId, sessionId);
    assert.equal(await closed, CloseCode.SESSION_TAKEN_OVER);
    // Pushes after the move reach bob on A, exactly once and in order.
    for (let i = 0; i < 20; i++)
      await js.publish('gatesvr.push.openid.bob', UnicastPushRequest.encode({ content: `after${i}` }));
    const seen: string[] = [];
    for (;;) {
      const n = await bob2.nextNotify(10_000).catch(fail(`push after the move (seen ${seen.join(',')})`));
      seen.push(n.content);
      if (n.content === 'after19') break;
    }
    const after = seen.filter((c) => c.startsWith('after'));
    assert.deepEqual(
      after,
      Array.from({ length: 20 }, (_, i) => `after${i}`),
    );
    pushA.close();
  });
});
