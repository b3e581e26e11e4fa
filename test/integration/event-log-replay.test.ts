/**
 * The in-process event log holds everything needed to rebuild a live session:
 * after real traffic, replaying the stored events gives the live state.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryEventLog } from '../../src/actors/memory-event-log.js';
import { PushClient } from '../../src/client/push-client.js';
import { summarizeSession } from '../../src/machines/session-state.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';

describe('in-process event log', () => {
  it('replays to the live state of every session', async () => {
    const log = new MemoryEventLog(1000);
    const gw = await startTestGateway({}, { eventLog: log });
    const push = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
    try {
      const a = await connectClient(gw, 'replay-a', { ackEvery: 1000, ackDelayMs: 60_000 });
      await login(a, '5');
      for (let i = 0; i < 300; i++)
        await push.push({ targetType: 'openid', targetId: 'replay-a', content: `x${i}` });
      await a.request('echo', {}, Buffer.from('e'));
      await waitFor(() => a.lastDelivered >= 302, 10_000, 'pushes delivered');
      a.ackNow();
      for (let i = 0; i < 3; i++)
        await push.push({ targetType: 'openid', targetId: 'replay-a', content: `y${i}` });
      const b = await connectClient(gw, 'replay-b');
      await waitFor(
        () => gw.system.findByOpenid('replay-a')!.state.queue.lastAcked >= 302,
        10_000,
        'ack stored',
      );
      for (const openid of ['replay-a', 'replay-b']) {
        const actor = gw.system.findByOpenid(openid)!;
        const replayed = log.replay(actor.sessionId);
        assert.ok(replayed, `${openid} has stored events`);
        assert.deepEqual(summarizeSession(replayed), summarizeSession(actor.state), openid);
      }
      await a.stop();
      await b.stop();
      await waitFor(() => log.sessionIds().length === 0, 5000, 'stopped sessions forgotten');
    } finally {
      push.close();
      await gw.close();
    }
  });
});
