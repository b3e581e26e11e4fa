/**
 * nats-server restarted under load: pushes keep coming over gRPC while the
 * server is killed and started again on the same store. Producers are refused
 * with UNAVAILABLE (503) while nothing can be stored; the gateway reconnects
 * and every accepted push reaches the client exactly once, in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

describe('nats-server restarted under load', { timeout: 90_000 }, () => {
  let nats: NatsServerHandle;
  let gw: Gateway;
  let client: GateClient;
  let producer: PushClient;

  before(async () => {
    nats = await startNatsServer();
    gw = await startTestGateway({
      nats: { url: nats.url, stream: 'GATESVR', subjectPrefix: 'gatesvr' },
      backup: { enabled: false, mode: 'primary', serverId: 'solo' },
    });
    client = await connectClient(gw, 'dave');
    await login(client, '1');
    producer = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`, 15_000);
  });

  after(async () => {
    producer?.close();
    client?.close();
    await gw?.close().catch(() => {});
    await nats?.stop();
  });

  it('no accepted push is lost; refused ones say 503', async () => {
    const delivered: number[] = [];
    client.onDelivered((d) => {
      if (d.kind === 'notify') delivered.push(Number(d.notify.content));
    });
    const accepted: number[] = [];
    const refused: string[] = [];
    let k = 0;
    let stop = false;
    const run = async () => {
      while (!stop) {
        const n = k++;
        try {
          const r = await producer.push({ targetType: 'openid', targetId: 'dave', content: String(n) });
          if (r.success) accepted.push(n);
          else refused.push(`${r.errorCode}: ${r.message}`);
        } catch (err) {
          refused.push(String(err));
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    };
    const producers = [run()];
    await waitFor(() => accepted.length >= 100, 20_000, '100 accepted');
    await nats.kill();
    await waitFor(
      () => refused.some((m) => m.includes('UNAVAILABLE') && m.includes('503')),
      20_000,
      'a 503 refusal',
    );
    const acceptedBefore = accepted.length;
    await nats.restart();
    await waitFor(
      () => accepted.length >= acceptedBefore + 100,
      30_000,
      '100 more accepted after the restart',
    );
    stop = true;
    await Promise.all(producers);
    const last = accepted[accepted.length - 1]!;
    await waitFor(() => delivered.includes(last), 30_000, 'every accepted push delivered');
    assert.equal(new Set(delivered).size, delivered.length, 'no duplicates');
    for (let i = 1; i < delivered.length; i++) assert.ok(delivered[i]! > delivered[i - 1]!, 'in order');
    const got = new Set(delivered);
    for (const a of accepted) assert.ok(got.has(a), `accepted ${a} delivered`);
    assert.equal(gw.cluster!.log.available(), true);
  });
});
