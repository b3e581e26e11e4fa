/**
 * A real `gatesvr --config FILE` process for tests and the nemesis: a YAML config
 * with port 0 everywhere (a port picked here and bound later by the child could be
 * taken in between by a test running in parallel), the bound ports read back from
 * the gateway's "gateway listening" JSON log line, HA mode primary/backup over
 * NATS, extra YAML keys (e.g. `nats.replicas`) merged in. The handle gives the
 * parsed log lines, kill/pause/resume, an exit promise, and `restart()` on the same
 * QUIC and gRPC ports (so clients and producers find it again).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { GateClient, type GateClientOptions } from '../../src/client/gate-client.js';
import type { TestCert } from './certs.js';
import { reapOnExit } from './child-reaper.js';

const root = new URL('../..', import.meta.url).pathname;

export interface LogLine {
  at: number;
  msg: string;
  obj: Record<string, unknown>;
}

export interface GatewayProcessOptions {
  /** Directory for the config file (the caller removes it). */
  dir: string;
  /** Process name; also `backup.server_id`. */
  name: string;
  cert: TestCert;
  /** HA mode; without it (or without natsUrl) no `backup` section is written. */
  mode?: 'primary' | 'backup';
  natsUrl?: string;
  quicPort?: number;
  grpcPort?: number;
  heartbeatInterval?: string;
  heartbeatTimeout?: string;
  ackTimeout?: string;
  logLevel?: string;
  /** Extra YAML keys, deep-merged over the generated config (e.g. `{ nats: { replicas: 3 } }`). */
  extra?: Record<string, unknown>;
  env?: Record<string, string>;
  /** Log line that means "started" (default: "HA started" in HA mode, else "gateway listening"). */
  readyMsg?: string;
  startTimeoutMs?: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface GatewayProcess {
  readonly name: string;
  readonly options: GatewayProcessOptions;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly configFile: string;
  readonly quicPort: number;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly metricsPort: number;
  readonly lines: LogLine[];
  /** Non-JSON output and stderr (tail). */
  readonly stderr: () => string;
  readonly exited: Promise<ExitInfo>;
  readonly running: boolean;
  readonly paused: boolean;
  /** First log line with this `msg` (after `since`, a Date.now() value). */
  line(msg: string, since?: number): LogLine | undefined;
  /** Serving per the log: the last of "HA started" {serving} / "serving" / "standing by". */
  servingPerLog(): boolean;
  /** GET /health: 'healthy' | 'standby' | 'degraded' | … ; 'down' when it cannot be reached. */
  health(timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
  pause(): void;
  resume(): void;
  /** SIGTERM (graceful drain), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** Kill (if running) and start again with the same options, QUIC and gRPC ports. */
  restart(overrides?: Partial<GatewayProcessOptions>): Promise<GatewayProcess>;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepMerge(
  base: Record<string, unknown>,
  over: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Record<string, unknown>, v) : v;
  }
  return out;
}

/** The YAML config object for these options (exported for tests that want to look at it). */
export function gatewayConfig(o: GatewayProcessOptions): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    server: {
      quic_addr: `127.0.0.1:${o.quicPort ?? 0}`,
      grpc_addr: `127.0.0.1:${o.grpcPort ?? 0}`,
      http_addr: '127.0.0.1:0',
      metrics_addr: '127.0.0.1:0',
      cert_file: o.cert.certFile,
      key_file: o.cert.keyFile,
      ack_timeout: o.ackTimeout ?? '2s',
    },
    log: { level: o.logLevel ?? 'info' },
  };
  if (o.natsUrl) cfg.nats = { url: o.natsUrl };
  if (o.natsUrl && o.mode) {
    cfg.backup = {
      enabled: true,
      mode: o.mode,
      server_id: o.name,
      heartbeat: { interval: o.heartbeatInterval ?? '500ms', timeout: o.heartbeatTimeout ?? '1500ms' },
    };
  }
  return o.extra ? deepMerge(cfg, o.extra) : cfg;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portOf(v: unknown): number {
  return Number(
    String(v ?? '')
      .split(':')
      .pop(),
  );
}

export async function spawnGateway(o: GatewayProcessOptions): Promise<GatewayProcess> {
  const configFile = join(o.dir, `${o.name}.yaml`);
  writeFileSync(configFile, stringify(gatewayConfig(o)));
  const level = o.logLevel ?? 'info';
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', '--config', configFile], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, GATESVR_LOG_LEVEL: level, ...o.env },
  });
  reapOnExit(child);
  const lines: LogLine[] = [];
  let errTail = '';
  let paused = false;
  let exitInfo: ExitInfo | null = null;
  const exited = new Promise<ExitInfo>((resolve) =>
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      paused = false;
      resolve(exitInfo);
    }),
  );
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const obj = JSON.parse(line) as Record<string, unknown>;
        lines.push({ at: Date.now(), msg: String(obj.msg), obj });
      } catch {
        errTail = (errTail + line + '\n').slice(-8000);
      }
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    errTail = (errTail + d.toString()).slice(-8000);
  });

  const ports = { quic: o.quicPort ?? 0, grpc: o.grpcPort ?? 0, http: 0, metrics: 0 };
  const running = () => exitInfo === null;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitInfo> => {
    if (!running()) return exitInfo!;
    child.kill(signal);
    return exited;
  };
  const handle: GatewayProcess = {
    name: o.name,
    options: o,
    child,
    get pid() {
      return child.pid ?? 0;
    },
    configFile,
    get quicPort() {
      return ports.quic;
    },
    get grpcPort() {
      return ports.grpc;
    },
    get httpPort() {
      return ports.http;
    },
    get metricsPort() {
      return ports.metrics;
    },
    lines,
    stderr: () => errTail,
    exited,
    get running() {
      return running();
    },
    get paused() {
      return paused;
    },
    line: (msg, since = 0) => lines.find((l) => l.msg === msg && l.at >= since),
    servingPerLog() {
      for (let i = lines.length - 1; i >= 0; i--) {
        const l = lines[i]!;
        if (l.msg === 'serving' || l.msg === 'serving lease taken: serving') return true;
        if (l.msg === 'standing by') return false;
        if (l.msg === 'HA started') return l.obj.serving === true;
      }
      return false;
    },
    async health(timeoutMs = 1_000) {
      if (!running() || paused || !ports.http) return 'down';
      try {
        const res = await fetch(`http://127.0.0.1:${ports.http}/health`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        const body = (await res.json().catch(() => ({}))) as { status?: string };
        return body.status ?? String(res.status);
      } catch {
        return 'down';
      }
    },
    kill,
    pause() {
      if (!running() || paused) return;
      child.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      if (!running() || !paused) return;
      child.kill('SIGCONT');
      paused = false;
    },
    async stop(graceMs = 5_000) {
      if (!running()) return exitInfo!;
      handle.resume();
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const info = await exited;
      clearTimeout(t);
      return info;
    },
    async restart(overrides = {}) {
      handle.resume();
      await kill('SIGKILL');
      return spawnGateway({ ...o, quicPort: ports.quic, grpcPort: ports.grpc, ...overrides });
    },
  };

  const readyMsg = o.readyMsg ?? (o.natsUrl && o.mode ? 'HA started' : 'gateway listening');
  const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
  try {
    while (!lines.some((l) => l.msg === readyMsg)) {
      if (!running()) throw new Error(`${o.name} exited (${exitInfo!.code ?? exitInfo!.signal}): ${errTail}`);
      if (Date.now() > deadline) throw new Error(`${o.name} did not log "${readyMsg}" in time: ${errTail}`);
      await sleep(20);
    }
    const listening = lines.find((l) => l.msg === 'gateway listening');
    if (!listening) throw new Error(`${o.name}: no "gateway listening" line`);
    ports.quic = portOf(listening.obj.quic);
    ports.grpc = portOf(listening.obj.grpc);
    ports.http = portOf(listening.obj.http);
    ports.metrics = portOf(listening.obj.metrics);
    if (!(ports.quic > 0 && ports.grpc > 0)) {
      throw new Error(
        `${o.name}: no QUIC/gRPC port in its "gateway listening" line: ${JSON.stringify(listening.obj)}`,
      );
    }
  } catch (err) {
    await kill('SIGKILL');
    throw err;
  }
  return handle;
}

/**
 * An SDK client of these gateway processes: the first is its address, the others its
 * endpoint list (`addresses`), verified with the one test certificate they share; resumes
 * quickly (short backoff and idle timeout) so that failover tests wait little.
 */
export function connectToGateways(
  gateways: GatewayProcess[],
  openid: string,
  cert: TestCert,
  options: Partial<GateClientOptions> = {},
): Promise<GateClient> {
  const [first, ...rest] = gateways;
  if (!first) throw new Error('connectToGateways: no gateway');
  return GateClient.connect({
    host: '127.0.0.1',
    port: first.quicPort,
    addresses: rest.map((g) => ({ host: '127.0.0.1', port: g.quicPort })),
    openid,
    caPem: cert.certPem,
    serverName: 'localhost',
    heartbeat: false,
    autoResume: true,
    reconnectMinMs: 50,
    reconnectMaxMs: 500,
    connectTimeoutMs: 2_000,
    idleTimeoutMs: 1_500,
    ...options,
  });
}
