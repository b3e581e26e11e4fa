/**
 * Hot backup over NATS with real processes: a primary and a backup gateway
 * (`gatesvr --config`) share a private nats-server. While pushes flow over
 * JetStream, the primary is killed with SIGKILL; the backup takes the serving
 * lease, the client resumes on it and has every accepted push exactly once, in
 * order. A returning old primary stands by.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { GateClient } from '../../src/client/gate-client.js';
import { UnicastPushRequest } from '../../src/protocol/messages.js';
import { makeTestCert, type TestCert } from '../helpers/certs.js';
import { waitFor } from '../helpers/gateway.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

const root = new URL('../..', import.meta.url).pathname;
let cert: TestCert;

interface GatewayProcess {
  child: ChildProcess;
  quicPort: number;
  lines: Array<{ at: number; msg: string; obj: Record<string, unknown> }>;
  exited: Promise<void>;
}

async function spawnGateway(
  dir: string,
  name: string,
  mode: 'primary' | 'backup',
  natsUrl: string,
  quicPort?: number,
) {
  // Port 0 everywhere (a port picked here and bound later by the child could be
  // taken in between by a test running in parallel); the QUIC port is read back
  // from the gateway's "gateway listening" log line.
  const quic = quicPort ?? 0;
  const cfgFile = join(dir, `${name}.yaml`);
  writeFileSync(
    cfgFile,
    [
      'server:',
      `  quic_addr: "127.0.0.1:${quic}"`,
      '  grpc_addr: "127.0.0.1:0"',
      '  http_addr: "127.0.0.1:0"',
      '  metrics_addr: "127.0.0.1:0"',
      `  cert_file: "${cert.certFile}"`,
      `  key_file: "${cert.keyFile}"`,
      '  ack_timeout: "2s"',
      'nats:',
      `  url: "${natsUrl}"`,
      'backup:',
      '  enabled: true',
      `  mode: "${mode}"`,
      `  server_id: "${name}"`,
      '  heartbeat:',
      '    interval: "500ms"',
      '    timeout: "1500ms"',
      'log:',
      '  level: "info"',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--config', cfgFile], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATESVR_LOG_LEVEL: 'info' },
  });
  const gp: GatewayProcess = {
    child,
    quicPort: quic,
    lines: [],
    exited: new Promise((r) => child.once('exit', () => r())),
  };
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        gp.lines.push({ at: Date.now(), msg: String(obj.msg), obj });
      } catch {
        // not JSON
      }
      nl = buf.indexOf('\n');
    }
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await waitFor(
    () => gp.lines.some((l) => l.msg === 'HA started') || child.exitCode !== null,
    30_000,
    `${name} start`,
  );
  if (child.exitCode !== null) throw new Error(`${name} exited: ${err}`);
  const listening = gp.lines.find((l) => l.msg === 'gateway listening');
  gp.quicPort = Number(
    String(listening?.obj.quic ?? '')
      .split(':')
      .pop(),
  );
  if (!(gp.quicPort > 0)) throw new Error(`${name}: no QUIC port in its "gateway listening" line`);
  return gp;
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
    for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
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
    primary.child.kill('SIGKILL');
    killedAt = Date.now();
    await primary.exited;
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
