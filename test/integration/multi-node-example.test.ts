/**
 * deploy/multi-node for real: three active `gatesvr --config` processes configured from the
 * example's gate-N.yaml (their server_id, backup disabled, nats.replicas 3; listeners on
 * port 0 and the in-process demo upstreams instead of the example's fixed ports) on a
 * private 3-node NATS cluster. A client given the three gateways as its endpoint list
 * (`addresses`) logs in on gate-1 and gets pushes sent through gate-3 (forwarded to the
 * holder); gate-1 is killed with SIGKILL; the client resumes the same session on gate-2,
 * and every push accepted before and after arrives exactly once, in order. The example's
 * NATS node configs pass `nats-server -t`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { PushClient } from '../../src/client/push-client.js';
import { makeTestCert, type TestCert } from '../helpers/certs.js';
import { read, root } from '../helpers/compose.js';
import { notifyContents, waitFor } from '../helpers/gateway.js';
import { connectToGateways, type GatewayProcess, spawnGateway } from '../helpers/gateway-process.js';
import { type NatsClusterHandle, startNatsCluster } from '../helpers/nats-cluster.js';
import { findNatsServer } from '../helpers/nats-server.js';

const DIR = 'deploy/multi-node';

/** The keys of the example's gate-N.yaml that make it one of three active nodes. */
function exampleKeys(n: number): Record<string, unknown> {
  const cfg = parse(read(`${DIR}/gate-${n}.yaml`)) as { nats: { replicas: number }; backup: unknown };
  return { nats: { replicas: cfg.nats.replicas }, backup: cfg.backup };
}

describe('deploy/multi-node: three active gateways on a 3-node NATS cluster', { timeout: 180_000 }, () => {
  let cluster: NatsClusterHandle;
  let dir: string;
  let cert: TestCert;
  const gates: GatewayProcess[] = [];
  const producers: PushClient[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatesvr-multi-'));
    // One certificate for all three: the client verifies every address of its list with one CA.
    cert = await makeTestCert();
    cluster = await startNatsCluster({ size: 3 });
    for (const n of [1, 2, 3]) {
      gates.push(
        await spawnGateway({ dir, name: `gate-${n}`, cert, natsUrl: cluster.url, extra: exampleKeys(n) }),
      );
    }
  });

  after(async () => {
    for (const p of producers) p.close();
    for (const g of gates) await g.kill();
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the example's NATS node configs are valid for nats-server", () => {
    for (const n of [1, 2, 3]) {
      const r = spawnSync(findNatsServer(), ['-t', '-c', join(root, DIR, `nats-${n}.conf`)], {
        encoding: 'utf8',
        env: { ...process.env, NATS_TOKEN: 'a-token' },
      });
      assert.equal(r.status, 0, `nats-${n}.conf: ${r.stdout}${r.stderr}`);
    }
  });

  it('a client with the endpoint list resumes on gate-2 when gate-1 is killed; every push once, in order', async () => {
    const [g1, g2, g3] = gates as [GatewayProcess, GatewayProcess, GatewayProcess];
    const client = await connectToGateways([g1, g2, g3], 'mia', cert);
    try {
      assert.equal((await client.request('hello', { zone: '1' })).code, 0);
      const sessionId = client.sessionId;
      const delivered = notifyContents(client);
      // Pushes go in through gate-3, which holds no session: it forwards to the holder.
      const producer = new PushClient(`127.0.0.1:${g3.grpcPort}`, 5_000);
      producers.push(producer);
      const accepted: string[] = [];
      const push = async (content: string) => {
        // Retried with the same push_id until accepted (the contract's producer rule).
        for (;;) {
          const r = await producer
            .push({ targetType: 'openid', targetId: 'mia', content, pushId: content })
            .catch(() => null);
          if (r?.success) break;
          await new Promise((res) => setTimeout(res, 100));
        }
        accepted.push(content);
      };
      for (let k = 0; k < 5; k++) await push(`before-${k}`);
      await waitFor(() => delivered.length === 5, 30_000, 'pushes through gate-3 reach mia on gate-1');

      await g1.kill('SIGKILL');
      await waitFor(
        () => client.connection !== null && client.resumed && client.sessionId === sessionId,
        60_000,
        'resume on another gateway',
      );
      for (let k = 0; k < 5; k++) await push(`after-${k}`);
      await waitFor(() => delivered.length >= accepted.length, 30_000, 'pushes after the kill delivered');

      assert.deepEqual(delivered, accepted, 'every accepted push once, in order');
      assert.equal(client.sessionId, sessionId, 'the same session');
      const holder = await fetch(`http://127.0.0.1:${g2.httpPort}/admin/sessions?openid=mia`).then((r) =>
        r.json(),
      );
      assert.match(JSON.stringify(holder), new RegExp(sessionId!), 'gate-2 (next in the list) holds it');
    } finally {
      client.close();
    }
  });
});
