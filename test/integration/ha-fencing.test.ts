/**
 * Fencing and idempotent retries across failovers, with real gatesvr processes
 * (a primary and a backup) on a private nats-server:
 * - the primary frozen with SIGSTOP past the lease timeout while a push to it is
 *   in flight: when it runs again it answers that push "not accepted", the backup
 *   meanwhile accepts pushes, and the client gets every accepted push once, with
 *   unique, contiguous seqs;
 * - a push retried with the same push_id after the gateway that accepted it is
 *   killed -9 is answered with the first seq and delivered once.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import type { UnicastPushResponse } from '../../src/protocol/messages.js';
import { makeTestCert } from '../helpers/certs.js';
import { login, waitFor, waitForAsync } from '../helpers/gateway.js';
import { connectToGateways, type GatewayProcess, spawnGateway } from '../helpers/gateway-process.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

describe('HA fencing: a paused primary, push_id across a kill -9', { timeout: 120_000 }, () => {
  let nats: NatsServerHandle;
  let dir: string;
  const procs: GatewayProcess[] = [];
  const pushers: PushClient[] = [];
  let client: GateClient | null = null;

  before(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(join(tmpdir(), 'gatesvr-fencing-'));
  });

  after(async () => {
    client?.close();
    for (const p of pushers) p.close();
    for (const p of procs) if (p.running) await p.kill();
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('never answers "accepted" after its lease may have lapsed; retried push ids are delivered once', async () => {
    const cert = await makeTestCert();
    const common = { dir, cert, natsUrl: nats.url, heartbeatInterval: '300ms', heartbeatTimeout: '1500ms' };
    const a = await spawnGateway({ ...common, name: 'gate-a', mode: 'primary' });
    procs.push(a);
    const b = await spawnGateway({ ...common, name: 'gate-b', mode: 'backup' });
    procs.push(b);
    await waitForAsync(async () => (await a.health()) === 'healthy', 20_000, 'gate-a serving');

    client = await connectToGateways([a, b], 'fenced', cert, { idleTimeoutMs: 2_000 });
    await login(client);
    const sessionId = client.sessionId;
    const seqs = new Map<string, number[]>();
    client.onDelivered((d) => {
      if (d.kind !== 'notify') return;
      seqs.set(d.notify.content, [...(seqs.get(d.notify.content) ?? []), d.seq]);
    });

    const toA = new PushClient(`127.0.0.1:${a.grpcPort}`, 30_000);
    const toB = new PushClient(`127.0.0.1:${b.grpcPort}`, 5_000);
    pushers.push(toA, toB);
    const push = (via: PushClient, content: string) =>
      via.push({ targetType: 'openid', targetId: 'fenced', content, pushId: content });
    /** Retried (same push_id) until accepted, as a producer would after UNAVAILABLE or a timeout. */
    const pushUntilAccepted = async (via: PushClient, content: string): Promise<UnicastPushResponse> => {
      for (;;) {
        const r = await push(via, content).catch(() => null);
        if (r?.success) return r;
        await new Promise((res) => setTimeout(res, 100));
      }
    };
    assert.equal((await push(toA, 'p0')).success, true);

    // Freeze the primary past its lease; a push to it waits in its socket.
    a.pause();
    const pausedAt = Date.now();
    const inFlight = push(toA, 'p1');
    await waitForAsync(async () => (await b.health()) === 'healthy', 20_000, 'gate-b serving');
    await pushUntilAccepted(toB, 'p2');
    console.log(
      `# primary paused: backup's first accepted push after ${Date.now() - pausedAt} ms (timeout 1500 ms)`,
    );
    a.resume();
    const p1 = await inFlight.catch((err: Error) => ({
      success: false,
      errorCode: 'RPC',
      message: err.message,
    }));
    assert.equal(p1.success, false, `a resumed primary answered ${JSON.stringify(p1)}`);
    await waitForAsync(async () => (await a.health()) === 'standby', 20_000, 'gate-a standing by');
    // Operators see the role flip in the metrics too.
    const serving = async (port: number) =>
      /^gatesvr_serving(?:\{[^}]*\})? (\d)$/m.exec(
        await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
      )?.[1];
    assert.equal(await serving(a.metricsPort), '0');
    // The producer retries p1 where it is served now.
    await pushUntilAccepted(toB, 'p1');
    assert.equal(await serving(b.metricsPort), '1');

    // push_id across a kill -9: accepted by gate-b, gate-b killed, retried on gate-a.
    const first = await pushUntilAccepted(toB, 'p3');
    await b.kill('SIGKILL');
    const killedAt = Date.now();
    await waitForAsync(async () => (await a.health()) === 'healthy', 20_000, 'gate-a serving again');
    const again = await pushUntilAccepted(toA, 'p3');
    console.log(
      `# serving gateway killed: first accepted push on the other after ${Date.now() - killedAt} ms`,
    );
    assert.equal(again.message, first.message, 'answered with the seq the first acceptance got');

    await waitFor(() => ['p0', 'p1', 'p2', 'p3'].every((c) => seqs.has(c)), 30_000, 'every accepted push');
    assert.equal(client.sessionId, sessionId, 'the same session throughout');
    for (const [content, got] of seqs) assert.equal(got.length, 1, `${content} delivered once (seqs ${got})`);
    const all = [...seqs.values()].map((s) => s[0]!).sort((x, y) => x - y);
    assert.deepEqual(
      all,
      Array.from({ length: all.length }, (_, i) => all[0]! + i),
      'unique, contiguous seqs',
    );
  });
});
