/**
 * A private 3-node (by default) `nats-server` cluster with JetStream for tests and
 * the nemesis: cluster routes between the nodes, one temporary store directory per
 * node, free ports only (never 4222/6222). Per node: kill -9, restart (same ports,
 * same store), pause (SIGSTOP) and resume (SIGCONT). `stop()` kills every node and
 * removes the stores.
 *
 * Ports: client ports are random on the first start (`port: -1`, read back from
 * the "Listening for client connections" log line) and kept for restarts. Route
 * ports must be known to every node up front, so they are chosen here (bind port
 * 0, close) and the whole cluster is started again on fresh ports if a node
 * fails to bind one (another process took it in between).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from 'nats';
import { forgetDir, reapOnExit, removeOnExit } from './child-reaper.js';
import { findNatsServer } from './nats-server.js';

export interface NatsNode {
  readonly name: string;
  readonly index: number;
  /** Client port (fixed after the first start). */
  readonly port: number;
  readonly clusterPort: number;
  readonly url: string;
  readonly storeDir: string;
  readonly pid: number;
  /** Running (maybe paused), as opposed to killed. */
  readonly running: boolean;
  readonly paused: boolean;
  /** Last log output (for failure messages). */
  output(): string;
  /** kill -9 (the store stays). */
  kill(): Promise<void>;
  /** Start again on the same ports with the same store (kills first if running). */
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
}

export interface NatsClusterHandle {
  /** Comma-separated client URLs of every node. */
  readonly url: string;
  readonly urls: string[];
  readonly nodes: NatsNode[];
  /** Wait until JetStream answers `$JS.API.INFO` (a meta leader exists). */
  waitJetStream(timeoutMs?: number): Promise<void>;
  /** Kill every node and remove the stores. */
  stop(): Promise<void>;
}

export interface NatsClusterOptions {
  size?: number;
  /** Cluster name (default: random). */
  name?: string;
  /** Ms to wait for a JetStream meta leader after start (default 30 s). */
  readyTimeoutMs?: number;
}

/** A TCP port free right now on 127.0.0.1 (may be taken by someone else later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class BindError extends Error {}

class Node implements NatsNode {
  port = -1;
  private child: ChildProcess | null = null;
  private out = '';
  paused = false;

  constructor(
    readonly bin: string,
    readonly name: string,
    readonly index: number,
    readonly clusterName: string,
    public clusterPort: number,
    public routes: () => number[],
    readonly storeDir: string,
    readonly confFile: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }
  get pid(): number {
    return this.child?.pid ?? 0;
  }
  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }
  output(): string {
    return this.out;
  }

  private writeConf(): void {
    const routes = this.routes()
      .filter((p) => p !== this.clusterPort)
      .map((p) => `    "nats://127.0.0.1:${p}"`)
      .join('\n');
    writeFileSync(
      this.confFile,
      [
        `server_name: "${this.name}"`,
        'host: "127.0.0.1"',
        `port: ${this.port}`,
        'jetstream {',
        `  store_dir: "${this.storeDir}"`,
        '  max_memory_store: 268435456',
        '  max_file_store: 1073741824',
        '}',
        'cluster {',
        `  name: "${this.clusterName}"`,
        `  listen: "127.0.0.1:${this.clusterPort}"`,
        '  routes: [',
        routes,
        '  ]',
        '}',
        '',
      ].join('\n'),
    );
  }

  async start(): Promise<void> {
    this.writeConf();
    this.out = '';
    this.paused = false;
    const child = spawn(this.bin, ['-c', this.confFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    reapOnExit(child);
    const onData = (d: Buffer) => {
      this.out = (this.out + d.toString()).slice(-16_000);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const started = Date.now();
    while (Date.now() - started < 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) {
        if (/address already in use|bind:/i.test(this.out)) throw new BindError(`${this.name}: ${this.out}`);
        throw new Error(
          `nats-server ${this.name} exited (${child.exitCode ?? child.signalCode}): ${this.out}`,
        );
      }
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(this.out);
      if (m && /Server is ready/.test(this.out)) {
        this.port = Number(m[1]);
        return;
      }
      await sleep(25);
    }
    await this.kill();
    throw new Error(`nats-server ${this.name} did not start: ${this.out}`);
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await gone;
    this.paused = false;
  }

  async restart(): Promise<void> {
    await this.kill();
    // The route port of a killed server is free at once; retry a little in case a
    // socket of the old process lingers.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.start();
        return;
      } catch (err) {
        if (!(err instanceof BindError) || attempt >= 20) throw err;
        await sleep(250);
      }
    }
  }

  pause(): void {
    if (!this.running || this.paused) return;
    this.child!.kill('SIGSTOP');
    this.paused = true;
  }

  resume(): void {
    if (!this.running || !this.paused) return;
    this.child!.kill('SIGCONT');
    this.paused = false;
  }
}

/** Ask JetStream for account info until it answers without error (meta leader elected). */
export async function waitJetStreamReady(servers: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let nc: NatsConnection | null = null;
  let last = '';
  try {
    while (Date.now() < deadline) {
      try {
        nc ??= await connect({ servers: servers.split(','), timeout: 2_000, maxReconnectAttempts: -1 });
        const m = await nc.request('$JS.API.INFO', new Uint8Array(0), { timeout: 1_000 });
        const body = JSON.parse(new TextDecoder().decode(m.data)) as { error?: { description?: string } };
        if (!body.error) return;
        last = body.error.description ?? JSON.stringify(body.error);
      } catch (err) {
        last = String(err);
      }
      await sleep(200);
    }
  } finally {
    await nc?.close().catch(() => {});
  }
  throw new Error(`JetStream not ready within ${timeoutMs} ms: ${last}`);
}

export async function startNatsCluster(opts: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const bin = findNatsServer();
  const size = opts.size ?? 3;
  const clusterName = opts.name ?? `gatesvr-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const root = mkdtempSync(join(tmpdir(), 'gatesvr-natsc-'));
  removeOnExit(root);
  const nodes: Node[] = [];
  const killAll = async () => {
    await Promise.all(nodes.map((n) => n.kill().catch(() => {})));
  };
  try {
    for (let attempt = 0; ; attempt++) {
      const ports: number[] = [];
      while (ports.length < size) {
        const p = await freePort();
        if (!ports.includes(p)) ports.push(p);
      }
      nodes.length = 0;
      for (let i = 0; i < size; i++) {
        const storeDir = join(root, `n${i + 1}`);
        rmSync(storeDir, { recursive: true, force: true });
        nodes.push(
          new Node(
            bin,
            `n${i + 1}`,
            i,
            clusterName,
            ports[i]!,
            () => ports,
            storeDir,
            join(root, `n${i + 1}.conf`),
          ),
        );
      }
      try {
        await Promise.all(nodes.map((n) => n.start()));
        break;
      } catch (err) {
        await killAll();
        if (!(err instanceof BindError) || attempt >= 5) throw err;
      }
    }
    const url = () => nodes.map((n) => n.url).join(',');
    const handle: NatsClusterHandle = {
      get url() {
        return url();
      },
      get urls() {
        return nodes.map((n) => n.url);
      },
      nodes,
      waitJetStream: (timeoutMs = 30_000) => waitJetStreamReady(url(), timeoutMs),
      stop: async () => {
        for (const n of nodes) n.resume();
        await killAll();
        rmSync(root, { recursive: true, force: true });
        forgetDir(root);
      },
    };
    await handle.waitJetStream(opts.readyTimeoutMs ?? 30_000);
    return handle;
  } catch (err) {
    await killAll();
    rmSync(root, { recursive: true, force: true });
    forgetDir(root);
    throw err;
  }
}
