/**
 * nats-server restarted under load: pushes keep coming over gRPC while the
 * server is killed and started again on the same store. Producers are refused
 * with UNAVAILABLE (503) while nothing can be stored; the gateway reconnects
 * and every accepted push reaches the client exactly once, in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type NatsSession, startNatsSession, waitFor } from '../helpers/gateway.js';

describe('nats-server restarted under load', { timeout: 90_000 }, () => {
  let stack: NatsSession;

  before(async () => {
    stack = await startNatsSession('dave', 15_000);
  });

  after(async () => {
    await stack?.close();
  });

  it('no accepted push is lost; refused ones say 503', async () => {
    const { nats, gw, client, producer } = stack;
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
    assert.equal(gw.nats!.log.available(), true);
  });
});
