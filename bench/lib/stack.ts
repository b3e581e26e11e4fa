/**
 * Shared set-up of the gateway benchmarks: the demo upstreams and the gateway,
 * each in its own child process, sessions logged in through the client SDK,
 * latency percentiles, and an optional CPU profile of the gateway child.
 *
 * `--cpu-prof DIR` (or BENCH_CPU_PROF=DIR) writes the gateway child's profiles into
 * DIR/gateway-<scenario>/ when it exits; `npx tsx bench/lib/profile-summary.ts DIR/gateway-<scenario>`
 * prints the top self-time functions of its main thread.
 */
import { join, resolve } from 'node:path';
import { GateClient } from '../../src/client/gate-client.js';
import {
  type ClientConnection,
  connectQuic,
  type QuicClientOptions,
} from '../../src/transport/quic/index.js';
import { makeTestCert, type TestCert } from '../../test/helpers/certs.js';
import type { ConfigPatch } from '../../test/helpers/gateway.js';
import { BenchChild, type ProcStats } from './child.js';
import type { GatewayCounters, GatewayReady, UpstreamsReady } from './gateway-child.js';
import { progress, type RunOptions } from './report.js';

export type GatewayStats = ProcStats & GatewayCounters;

export interface Stack {
  upstreams: BenchChild;
  gateway: BenchChild;
  quicPort: number;
  grpcPort: number;
  grpcTarget: string;
  zoneAddr: string;
  cert: TestCert;
  stop(): Promise<void>;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Limits a benchmark must not trip over: admission control off, room for every session. */
export function benchPatch(extra: ConfigPatch = {}): ConfigPatch {
  return {
    ...extra,
    server: { heartbeatIntervalMs: 600_000, idleTimeoutMs: 120_000, ...extra.server },
    overloadProtection: { enabled: false, maxConnections: 100_000, ...extra.overloadProtection },
  };
}

export function cpuProfDir(opts: RunOptions): string | null {
  const d = opts.args?.['cpu-prof'] ?? process.env['BENCH_CPU_PROF'];
  return d ? resolve(d) : null;
}

function profArgs(opts: RunOptions, name: string): string[] {
  const dir = cpuProfDir(opts);
  // One file per thread (tsx runs a loader thread too); profile-summary picks the busiest.
  return dir ? ['--cpu-prof', '--cpu-prof-dir', join(dir, name)] : [];
}

const GATEWAY_CHILD = new URL('./gateway-child.ts', import.meta.url);
export const ENGINE_CHILD = new URL('./engine-child.ts', import.meta.url);

export interface EngineChild {
  child: BenchChild;
  /** A client connection to the child (loopback, idle timeout 120 s unless `extra` says otherwise). */
  connect(extra?: Partial<QuicClientOptions>): Promise<ClientConnection>;
}

/** The bare QUIC engine (createQuicServer) in a child process, the baseline of the gateway rows. */
export async function startEngineChild(): Promise<EngineChild> {
  const cert = await makeTestCert();
  const { child, ready } = await BenchChild.start<{ port: number }>(ENGINE_CHILD, 'engine', {
    certPem: cert.certPem,
    keyPem: cert.keyPem,
  });
  return {
    child,
    connect: (extra = {}) =>
      connectQuic({
        host: '127.0.0.1',
        port: ready.port,
        caPem: cert.certPem,
        serverName: 'localhost',
        idleTimeoutMs: 120_000,
        ...extra,
      }),
  };
}

export async function startUpstreams(): Promise<{ child: BenchChild; ready: UpstreamsReady }> {
  return BenchChild.start<UpstreamsReady>(GATEWAY_CHILD, 'upstreams', { role: 'upstreams' });
}

export async function startStack(opts: RunOptions, scenario: string, patch: ConfigPatch): Promise<Stack> {
  const cert = await makeTestCert();
  const ups = await startUpstreams();
  let gw: { child: BenchChild; ready: GatewayReady };
  try {
    gw = await BenchChild.start<GatewayReady>(
      GATEWAY_CHILD,
      'gateway',
      {
        role: 'gateway',
        upstreams: ups.ready.addresses,
        patch,
        cert: { certFile: cert.certFile, keyFile: cert.keyFile },
      },
      { execArgv: profArgs(opts, `gateway-${scenario}`) },
    );
  } catch (e) {
    await ups.child.stop();
    throw e;
  }
  progress(`gateway pid ${gw.child.pid} (quic ${gw.ready.quicPort}), upstreams pid ${ups.child.pid}`);
  return {
    upstreams: ups.child,
    gateway: gw.child,
    quicPort: gw.ready.quicPort,
    grpcPort: gw.ready.grpcPort,
    grpcTarget: `127.0.0.1:${gw.ready.grpcPort}`,
    zoneAddr: ups.ready.addresses.zone[0]!,
    cert,
    async stop() {
      await gw.child.stop();
      await ups.child.stop();
    },
  };
}

export function connectSession(stack: Stack, openid: string): Promise<GateClient> {
  return GateClient.connect({
    host: '127.0.0.1',
    port: stack.quicPort,
    openid,
    caPem: stack.cert.certPem,
    serverName: 'localhost',
    heartbeat: false,
    idleTimeoutMs: 120_000,
  });
}

/** n sessions, connected and (optionally) logged in via the hello upstream, `concurrency` at a time. */
export async function connectSessions(
  stack: Stack,
  n: number,
  prefix: string,
  login = true,
  concurrency = 50,
): Promise<GateClient[]> {
  const out: GateClient[] = new Array(n);
  let next = 0;
  let lastReport = Date.now();
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const c = await connectSession(stack, `${prefix}-${i}`);
      if (login) {
        const a = await c.request('hello', { zone: '1' });
        if (a.code !== 0) throw new Error(`login failed: ${a.code} ${a.message}`);
      }
      out[i] = c;
      if (Date.now() - lastReport > 2000) {
        lastReport = Date.now();
        progress(`  ${i + 1}/${n} sessions`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}

export async function closeSessions(clients: GateClient[]): Promise<void> {
  for (const c of clients) c?.close();
  await sleep(200);
}

/** p in [0, 100] of an ascending array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function sortedCopy(xs: number[]): Float64Array {
  return Float64Array.from(xs).sort();
}

export const round2 = (x: number) => Math.round(x * 100) / 100;

export const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
