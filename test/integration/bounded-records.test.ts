/**
 * Bounded NATS records and outages (docs/protocol.md v1.1, section 7), against a real
 * nats-server:
 * - 700 pushes of 2 KB to an offline user: every one answered and accepted, no
 *   message above the server's max_payload (the snapshot goes out in parts), and
 *   the user gets all of them in order, also from a second gateway that rebuilds
 *   the session from the log alone;
 * - a NATS outage: /health says degraded, a BUSINESS request is answered ERROR 503,
 *   a push is refused UNAVAILABLE; once NATS is back all is served again.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import { GateError } from '../../src/errors.js';
import type { Gateway } from '../../src/gateway.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import {
  connectClient,
  login,
  type NatsSession,
  natsPatch,
  startNatsSession,
  startTestGateway,
  waitFor,
} from '../helpers/gateway.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

async function health(gw: Gateway): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${gw.addresses.http.port}/health`);
  return { status: r.status, body: await r.text() };
}

describe('bounded NATS records: a large offline queue', { timeout: 120_000 }, () => {
  let nats: NatsServerHandle;
  const gateways: Gateway[] = [];
  const clients: GateClient[] = [];
  let producer: PushClient | null = null;

  before(async () => {
    nats = await startNatsServer();
  });

  after(async () => {
    producer?.close();
    for (const c of clients) c.close();
    for (const g of gateways) await g.close().catch(() => {});
    await nats?.stop();
  });

  it('700 pushes of 2 KB to an offline user: all accepted, no record over max_payload, all delivered after a rebuild', async () => {
    const gw1 = await startTestGateway({ ...natsPatch(nats.url), server: { resumeWindowMs: 120_000 } });
    gateways.push(gw1);
    const first = await connectClient(gw1, 'olga');
    await login(first, '1');
    const sessionId = first.sessionId;
    first.close();
    await waitFor(() => gw1.system.findByOpenid('olga')?.state.attached === false, 10_000, 'detached');

    const pusher = new PushClient(`127.0.0.1:${gw1.addresses.grpc.port}`, 5_000);
    producer = pusher;
    const body = 'x'.repeat(2_000);
    for (let k = 0; k < 700; k++) {
      // A 5 s deadline per call: an answer that never comes fails the test.
      const r = await pusher.push({ targetType: 'openid', targetId: 'olga', content: `${k}:${body}` });
      assert.equal(r.success, true, `push ${k}: ${r.errorCode} ${r.message}`);
    }
    const log = gw1.nats!.log;
    assert.ok(log.stats.snapshotParts > 0, 'a snapshot too large for one message went out in parts');
    assert.equal(log.stats.failed, 0);

    // Every stored message of the session fits the server's limit.
    const jsm = await gw1.nats!.nc.jetstreamManager();
    const maxPayload = gw1.nats!.nc.info!.max_payload;
    const info = await jsm.streams.info('GATESVR', { subjects_filter: `gatesvr.events.${sessionId}` });
    assert.ok(info.state.messages > 0);
    let seq = info.state.first_seq;
    let checked = 0;
    while (seq <= info.state.last_seq) {
      try {
        const m = await jsm.streams.getMessage('GATESVR', { seq });
        if (m.subject === `gatesvr.events.${sessionId}`) {
          assert.ok(m.data.length <= maxPayload, `message ${seq}: ${m.data.length} > ${maxPayload}`);
          checked++;
        }
      } catch {
        // purged
      }
      seq++;
    }
    assert.ok(checked > 0);

    // The gateway goes away; another rebuilds the session from the log alone.
    await gw1.close();
    gateways.length = 0;
    const gw2 = await startTestGateway({ ...natsPatch(nats.url), server: { resumeWindowMs: 120_000 } });
    gateways.push(gw2);
    const back = await connectClient(gw2, 'olga');
    clients.push(back);
    assert.equal(back.resumed, true);
    assert.equal(back.sessionId, sessionId);
    // Buffered in order from the first frame on (some arrive with START_RESP).
    const got: number[] = [];
    for (let k = 0; k < 700; k++) got.push(Number((await back.nextNotify(30_000)).content.split(':')[0]));
    assert.deepEqual(
      got,
      Array.from({ length: 700 }, (_, i) => i),
    );
  });
});

describe('NATS outage: degraded health, answered requests', { timeout: 90_000 }, () => {
  let stack: NatsSession;

  before(async () => {
    stack = await startNatsSession('ned', 10_000);
  });

  after(async () => {
    await stack?.close();
  });

  it('says degraded, answers BUSINESS with 503 and refuses pushes, then serves again', async () => {
    const { nats, gw, client, producer } = stack;
    const before = await health(gw);
    assert.equal(before.status, 200, before.body);
    assert.equal(JSON.parse(before.body).status, 'healthy');
    await nats.kill();
    await waitFor(() => !gw.cluster.storeAvailable, 20_000, 'the gateway to notice');
    const h = await health(gw);
    assert.equal(h.status, 503);
    assert.equal(JSON.parse(h.body).status, 'degraded');

    await assert.rejects(
      client.request('echo', {}, new TextEncoder().encode('during the outage')),
      (err: unknown) => err instanceof GateError && err.code === ErrorCode.UPSTREAM_UNAVAILABLE,
    );
    const refused = await producer.push({ targetType: 'openid', targetId: 'ned', content: 'refused' });
    assert.equal(refused.success, false);
    assert.equal(refused.errorCode, 'UNAVAILABLE');

    await nats.restart();
    await waitFor(() => gw.cluster.storeAvailable, 30_000, 'NATS back');
    assert.equal((await health(gw)).status, 200);
    const answer = await client.request('echo', {}, new TextEncoder().encode('after'));
    assert.equal(answer.code, 0);
    const r = await producer.push({ targetType: 'openid', targetId: 'ned', content: 'after' });
    assert.equal(r.success, true, r.message);
    assert.equal((await client.nextNotify()).content, 'after');
  });
});
