/**
 * Chaos: pushes and requests flow while the client's connection is cut at random
 * points (by the client or by the gateway) and resumed, for a bounded number of
 * rounds. At the end every accepted push arrived exactly once, in order, and
 * every request got its own answer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PushClient } from '../../src/client/push-client.js';
import { prng } from '../helpers/fuzz.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';

describe('chaos', () => {
  it('loses, repeats and reorders nothing while connections are cut and resumed', async () => {
    const seed = Number(process.env.GATESVR_CHAOS_SEED ?? Date.now() % 100000);
    const rand = prng(seed);
    const gw = await startTestGateway({ server: { ackTimeoutMs: 300, maxRetries: 3 } as never });
    const push = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
    const client = await connectClient(gw, 'chaos-user', {
      autoResume: true,
      resumeDelayMs: 20,
      ackDelayMs: 20,
    });
    try {
      await login(client);
      const delivered: string[] = [];
      client.onDelivered((d) => {
        if (d.kind === 'notify') delivered.push(d.notify.content);
      });

      const accepted: string[] = [];
      let producing = true;
      const producer = (async () => {
        for (let i = 0; producing && i < 600; i++) {
          const r = await push.push({ targetType: 'openid', targetId: 'chaos-user', content: `p${i}` });
          if (r.success) accepted.push(`p${i}`);
          else assert.equal(r.errorCode, 'QUEUE_FULL', `unexpected refusal ${r.errorCode} ${r.message}`);
          if (rand() < 0.2) await new Promise((r2) => setTimeout(r2, 2));
        }
      })();

      const answers: Array<Promise<void>> = [];
      for (let i = 0; i < 40; i++) {
        const body = `req-${i}`;
        answers.push(
          client.request('echo', {}, Buffer.from(body)).then((a) => {
            assert.equal(Buffer.from(a.data).toString(), body);
          }),
        );
        await new Promise((r) => setTimeout(r, 5));
      }

      const rounds = 10;
      const actor = () => gw.system.findByOpenid('chaos-user');
      for (let round = 0; round < rounds; round++) {
        await new Promise((r) => setTimeout(r, 20 + rand() * 120));
        const conn = client.connection;
        const link = actor()?.linkId ?? 0;
        if (!conn || conn.closed || link === 0) continue;
        if (rand() < 0.5) {
          conn.close(0x99, 'chaos: client cut');
        } else {
          actor()?.send({ type: 'SHUTDOWN' }); // the gateway drops the link (0x12), the session stays
        }
        // Resumed = a new connection on the client and the session attached to a new link on the gateway.
        await waitFor(
          () =>
            client.connection !== conn &&
            client.connection?.closed === false &&
            actor()?.state.attached === true &&
            actor()?.linkId !== link,
          15_000,
          `resume after round ${round} (seed ${seed})`,
        );
      }
      producing = false;
      await producer;
      await Promise.all(answers);
      await waitFor(
        () => delivered.length >= accepted.length,
        30_000,
        `all ${accepted.length} pushes delivered (seed ${seed})`,
      );
      assert.deepEqual(delivered, accepted, `exactly once, in order (seed ${seed})`);
      assert.ok(actor()!.state.resumes >= 1, 'the session was resumed');
      await client.stop();
    } finally {
      push.close();
      await gw.close();
    }
  });
});
