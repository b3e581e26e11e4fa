/**
 * Hot backup over NATS with real processes: a primary and a backup gateway
 * (`gatesvr --config`) share a private nats-server. While pushes flow over
 * JetStream, the primary is killed with SIGKILL; the backup takes the serving
 * lease, the client resumes on it and has every accepted push exactly once, in
 * order. A returning old primary stands by.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { GateClient } from '../../src/client/gate-client.js';
import { UnicastPushRequest } from '../../src/protocol/messages.js';
import { makeTestCert, type TestCert } from '../helpers/certs.js';
import { waitFor } from '../helpers/gateway.js';
import { type GatewayProcess, spawnGateway as spawnGatewayProcess } from '../helpers/gateway-process.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

let cert: TestCert;

function spawnGateway(
  dir: string,
  name: string,
  mode: 'primary' | 'backup',
  natsUrl: string,
  quicPort?: number,
) {
  return spawnGatewayProcess({ dir, name, mode, natsUrl, cert, quicPort });
}

describe('failover: kill -9 of the primary gateway process', { timeout: 110_000 }, () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let dir: string;
  const procs: GatewayProcess[] = [];

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    dir = mkdtempSync(join(tmpdir(), 'gatesvr-failover-'));
    // One certificate for both gateways (a client trusts the pair).
    cert = await makeTestCert();
  });

  after(async () => {
    for (const p of procs) await p.kill();
    await nc?.close().catch(() => {});
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the client resumes on the backup with every accepted push exactly once, in order', async () => {
    const primary = await spawnGateway(dir, 'gate-001', 'primary', nats.url);
    procs.push(primary);
    assert.equal(primary.lines.find((l) => l.msg === 'HA started')?.obj.serving, true);
    const backup = await spawnGateway(dir, 'gate-002', 'backup', nats.url);
    procs.push(backup);
    assert.equal(backup.lines.find((l) => l.msg === 'HA started')?.obj.serving, false);

    const client = await GateClient.connect({
      host: '127.0.0.1',
      port: primary.quicPort,
      addresses: [{ host: '127.0.0.1', port: backup.quicPort }],
      openid: 'carol',
      caPem: cert.certPem,
      serverName: 'localhost',
      heartbeat: false,
      autoResume: true,
      resumeDelayMs: 50,
      connectTimeoutMs: 1_000,
      idleTimeoutMs: 1_500,
    });
    const a = await client.request('hello', { zone: '1' });
    assert.equal(a.code, 0);
    const sessionId = client.sessionId;
    const delivered: string[] = [];
    let resumedAt = 0;
    client.onDelivered((d) => {
      if (d.kind === 'notify') delivered.push(d.notify.content);
    });

    // Producer: JetStream publishes; accepted = stored in the push stream (PubAck).
    const js = nc.jetstream();
    const accepted: number[] = [];
    let killedAt = 0;
    let stop = false;
    const producer = (async () => {
      for (let k = 0; !stop && k < 600; k++) {
        try {
          await js.publish('gatesvr.push.openid.carol', UnicastPushRequest.encode({ content: String(k) }), {
            msgID: `carol-${k}`,
            timeout: 5_000,
          });
          accepted.push(k);
        } catch {
          // not accepted: may or may not arrive, never twice
        }
        if (k % 10 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    })();

    await waitFor(() => delivered.length >= 100, 30_000, '100 pushes on the primary');
    const gone = primary.kill('SIGKILL');
    killedAt = Date.now();
    await gone;
    const before = delivered.length;
    await waitFor(
      () => delivered.length > before && client.connection !== null && client.resumed,
      30_000,
      'resume on backup',
    );
    resumedAt = Date.now();
    await producer;
    stop = true;
    const last = accepted[accepted.length - 1]!;
    await waitFor(() => delivered.includes(String(last)), 30_000, 'every accepted push delivered');

    const nums = delivered.map(Number);
    assert.equal(new Set(nums).size, nums.length, 'no push delivered twice');
    for (let i = 1; i < nums.length; i++)
      assert.ok(nums[i]! > nums[i - 1]!, `in order at ${i}: ${nums[i - 1]} then ${nums[i]}`);
    const got = new Set(nums);
    for (const k of accepted) assert.ok(got.has(k), `accepted push ${k} delivered`);
    assert.equal(client.sessionId, sessionId, 'same session on the backup');

    const serving = backup.lines.find((l) => l.msg === 'serving lease taken: serving');
    assert.ok(serving, 'backup took the lease');
    const figures = {
      killToServingMs: serving.at - killedAt,
      killToResumedDeliveryMs: resumedAt - killedAt,
      promotionMs: serving.obj.ms,
      pushes: accepted.length,
    };
    console.log(`# failover ${JSON.stringify(figures)}`);

    // The old primary comes back: it stands by (the backup holds the lease).
    const again = await spawnGateway(dir, 'gate-001', 'primary', nats.url, primary.quicPort);
    procs.push(again);
    assert.equal(again.lines.find((l) => l.msg === 'HA started')?.obj.serving, false);
    client.close();
  });
});
