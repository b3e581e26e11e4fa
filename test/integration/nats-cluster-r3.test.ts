/**
 * nats.replicas: 3 on a 3-node NATS cluster (docs/protocol.md section 7, v1.1):
 * the node leading the session-event stream is killed while pushes flow; pushes
 * are accepted again within 15 s, and every accepted push reaches the client
 * exactly once, in order. The producer retries with its push_id, as the contract
 * tells producers to.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import {
  connectClient,
  login,
  natsPatch,
  notifyContents,
  startTestGateway,
  waitFor,
} from '../helpers/gateway.js';
import { type NatsClusterHandle, startNatsCluster } from '../helpers/nats-cluster.js';

describe('3-node NATS cluster, replicas 3: one node killed under load', { timeout: 120_000 }, () => {
  let cluster: NatsClusterHandle;
  let gw: Gateway;
  let client: GateClient;
  let producer: PushClient;

  before(async () => {
    cluster = await startNatsCluster({ size: 3 });
    gw = await startTestGateway({ ...natsPatch(cluster.url, 'solo', { replicas: 3 }) });
    client = await connectClient(gw, 'rita', { autoResume: true, reconnectMinMs: 50, reconnectMaxMs: 500 });
    await login(client, '1');
    producer = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`, 3_000);
  });

  after(async () => {
    producer?.close();
    client?.close();
    await gw?.close().catch(() => {});
    await cluster?.stop();
  });

  it('no accepted push is lost or repeated, and pushes are accepted again within 15 s', async () => {
    const jsm = await gw.nats!.nc.jetstreamManager();
    for (const stream of ['GATESVR', 'GATESVR_PUSH', 'KV_GATESVR_DIR']) {
      assert.equal((await jsm.streams.info(stream)).config.num_replicas, 3, `${stream} is R3`);
    }
    const delivered = notifyContents(client);
    const accepted: string[] = [];
    const acceptedAt: number[] = [];
    let stop = false;
    const run = (async () => {
      for (let k = 0; !stop; k++) {
        const content = `r${k}`;
        // One push at a time, retried with the same push_id until accepted: order is the producer's.
        for (;;) {
          const r = await producer
            .push({ targetType: 'openid', targetId: 'rita', content, pushId: content })
            .catch(() => null);
          if (r?.success) break;
          await new Promise((res) => setTimeout(res, 50));
        }
        accepted.push(content);
        acceptedAt.push(Date.now());
      }
    })();
    await waitFor(() => accepted.length >= 50, 30_000, '50 accepted');

    const leader = (await jsm.streams.info('GATESVR')).cluster?.leader;
    const victim = cluster.nodes.find((n) => n.name === leader) ?? cluster.nodes[0]!;
    const before = accepted.length;
    const killedAt = Date.now();
    await victim.kill();
    await waitFor(() => accepted.length >= before + 50, 15_000 + 30_000, '50 more accepted after the kill');
    stop = true;
    await run;

    // The contract's bound: accepting again within 15 s: the longest pause between two
    // acceptances from the kill on (the kill itself included).
    let gapMs = 0;
    let prev = killedAt;
    for (const t of acceptedAt) {
      if (t < killedAt) continue;
      gapMs = Math.max(gapMs, t - prev);
      prev = t;
    }
    console.log(`# nats node ${victim.name} (stream leader ${leader}) killed: longest gap ${gapMs} ms`);
    assert.ok(gapMs <= 15_000, `no push accepted for ${gapMs} ms after the kill`);

    const last = accepted[accepted.length - 1]!;
    await waitFor(() => delivered.includes(last), 30_000, 'every accepted push delivered');
    assert.equal(new Set(delivered).size, delivered.length, 'nothing delivered twice');
    assert.deepEqual(
      delivered.filter((c) => accepted.includes(c)),
      accepted,
      'every accepted push, in the producer order',
    );
    await victim.restart();
  });
});
