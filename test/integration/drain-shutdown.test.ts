/**
 * Graceful drain (docs/protocol.md section 7): on SIGTERM (or Gateway.close()) the
 * gateway stops accepting, flushes, closes every session with 0x12 and exits 0
 * within server.drain_timeout — here under load, over real QUIC and gRPC.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, it } from 'node:test';
import { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import { CloseCode } from '../../src/protocol/codes.js';
import type { CloseInfo } from '../../src/transport/quic/types.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';

const ROOT = new URL('../..', import.meta.url).pathname;

interface Loaded {
  clients: GateClient[];
  closes: CloseInfo[];
  /** Requests answered so far. */
  readonly ok: number;
  stop(): Promise<{ ok: number; failed: number }>;
}

/** N sessions each sending requests back to back until the connection goes. */
async function underLoad(connect: (i: number) => Promise<GateClient>, n: number): Promise<Loaded> {
  const clients = await Promise.all(Array.from({ length: n }, (_, i) => connect(i)));
  const closes: CloseInfo[] = [];
  let ok = 0;
  let failed = 0;
  let running = true;
  const loops = clients.map(async (c) => {
    let open = true;
    c.onClose((info) => {
      closes.push(info);
      open = false;
    });
    await login(c);
    while (running && open) {
      try {
        await c.request('echo', {}, Buffer.from('load'));
        ok++;
      } catch {
        failed++;
      }
    }
  });
  return {
    clients,
    closes,
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed };
    },
  };
}

describe('graceful drain', () => {
  it('Gateway.close(): sessions closed with 0x12, new connections refused, done in time', async () => {
    const gw = await startTestGateway({ server: { drainTimeoutMs: 5000 } });
    const load = await underLoad((i) => connectClient(gw, `drain-${i}`), 20);
    // Drain only once requests are being answered (a fixed sleep raced a loaded machine).
    await waitFor(() => load.ok >= 20, 30_000, 'requests answered under load');
    const closing = gw.close();
    // A connection attempt during the drain is refused (0x12), never served.
    const late = connectClient(gw, 'too-late', { connectTimeoutMs: 3000 }).then(
      (c) => {
        c.close();
        return 'served';
      },
      () => 'refused',
    );
    await closing;
    assert.equal(await late, 'refused');
    const { ok } = await load.stop();
    assert.ok(ok > 0);
    await waitFor(() => load.closes.length === 20, 10_000, 'every client saw its close');
    for (const info of load.closes) {
      assert.equal(info.code, CloseCode.SERVER_SHUTDOWN, JSON.stringify(info));
      assert.equal(info.isApp, true);
    }
  });

  describe('SIGTERM to the gatesvr process under load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatesvr-drain-'));
    let child: ChildProcess | null = null;
    after(() => {
      child?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('every client gets 0x12, pushes accepted before are delivered, exit code 0', async () => {
      const cfgFile = join(dir, 'gatesvr.yaml');
      writeFileSync(
        cfgFile,
        [
          'server:',
          '  quic_addr: "127.0.0.1:0"',
          '  grpc_addr: "127.0.0.1:0"',
          '  http_addr: "127.0.0.1:0"',
          '  metrics_addr: "127.0.0.1:0"',
          '  drain_timeout: "8s"',
          'log:',
          '  level: info',
          '',
        ].join('\n'),
      );
      const proc = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--config', cfgFile], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        // The config file alone decides (the test runner sets GATESVR_LOG_LEVEL=silent).
        env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATESVR_'))),
      });
      child = proc;
      let stderr = '';
      proc.stderr!.on('data', (d) => (stderr += String(d)));
      const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
      const lines: Array<Record<string, unknown>> = [];
      const listening = new Promise<{ quic: number; grpc: number }>((resolve, reject) => {
        const rl = createInterface({ input: proc.stdout! });
        rl.on('line', (line) => {
          try {
            const rec = JSON.parse(line) as Record<string, unknown>;
            lines.push(rec);
            if (rec['msg'] === 'gateway listening') {
              const quic = Number(String(rec['quic']).split(':').pop());
              resolve({ quic, grpc: Number(rec['grpc']) });
            }
          } catch {
            // not JSON
          }
        });
        void exited.then((code) => reject(new Error(`gatesvr exited early (${code}): ${stderr}`)));
      });
      const ports = await Promise.race([
        listening,
        new Promise<never>((_, rej) => {
          setTimeout(() => rej(new Error(`no "gateway listening" line: ${stderr}`)), 60_000).unref();
        }),
      ]);

      const connect = (i: number) =>
        GateClient.connect({
          host: '127.0.0.1',
          port: ports.quic,
          openid: `sig-${i}`,
          insecure: true,
          heartbeat: false,
        });
      const load = await underLoad(connect, 20);
      // Pushes from a producer while requests flow; each accepted one must reach its client.
      const pusher = new PushClient(`127.0.0.1:${ports.grpc}`);
      const notified = new Map<string, number>();
      for (const c of load.clients) {
        c.onDelivered((d) => {
          if (d.kind === 'notify') notified.set(c.sessionId, (notified.get(c.sessionId) ?? 0) + 1);
        });
      }
      const accepted = new Map<string, number>();
      await new Promise((r) => setTimeout(r, 300));
      for (let round = 0; round < 5; round++) {
        await Promise.all(
          load.clients.map(async (c, i) => {
            const res = await pusher.push({
              targetType: 'openid',
              targetId: `sig-${i}`,
              content: `n${round}`,
            });
            if (res.success) accepted.set(c.sessionId, (accepted.get(c.sessionId) ?? 0) + 1);
          }),
        );
      }
      pusher.close();
      // Let the accepted pushes reach the clients, then signal.
      await waitFor(
        () => load.clients.every((c) => (notified.get(c.sessionId) ?? 0) >= (accepted.get(c.sessionId) ?? 0)),
        20_000,
        'pushes delivered',
      );
      proc.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<never>((_, rej) => {
          setTimeout(() => rej(new Error('no exit within 30 s')), 30_000).unref();
        }),
      ]);
      child = null;
      const { ok } = await load.stop();
      assert.equal(code, 0, stderr);
      assert.ok(ok > 0);
      await waitFor(() => load.closes.length === 20, 10_000, 'every client saw its close');
      for (const info of load.closes) {
        assert.equal(info.code, CloseCode.SERVER_SHUTDOWN, JSON.stringify(info));
        assert.equal(info.isApp, true);
      }
      for (const c of load.clients)
        assert.equal(notified.get(c.sessionId) ?? 0, accepted.get(c.sessionId) ?? 0);
      assert.ok(lines.some((l) => l['msg'] === 'draining'));
    });
  });
});
