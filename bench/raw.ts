/**
 * Scenario `raw`: transport-level echo and push, this engine vs stock
 * @matrixai/quic (QUICServer/QUICClient) vs node:tls over TCP, same framing.
 * The server runs in a child process so CPU per message is attributed per side.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { makeTestCert } from '../test/helpers/certs.js';
import { echoFrame, pushRequest } from './lib/frames.js';
import { type BenchClient, type Cert, connectClient, IMPLS, type ImplName } from './lib/impls.js';
import { type Cell, emitResult, progress, type RunOptions, table } from './lib/report.js';
import type { FromChild } from './lib/server-child.js';

interface Row {
  name: string;
  kind: 'echo' | 'push';
  conns: number;
  size: number;
  window: number;
  /** Push: total bytes. */
  total?: number;
}

const ROWS: Row[] = [
  { name: '1 conn 64 B w1', kind: 'echo', conns: 1, size: 64, window: 1 },
  { name: '1 conn 1 KiB w32', kind: 'echo', conns: 1, size: 1024, window: 32 },
  { name: '50 conns 256 B w8', kind: 'echo', conns: 50, size: 256, window: 8 },
  { name: 'push 8 MiB / 1 KiB', kind: 'push', conns: 1, size: 1024, window: 0, total: 8 * 1024 * 1024 },
];

/** Stock rows stop early after this many messages (they are slow). */
const STOCK_MSG_CAP = 20_000;

/** Rows for `engine-16k` are informational: 16 KB datagrams only make sense on loopback/jumbo LANs. */

interface Measured {
  impl: ImplName;
  row: string;
  msgs: number;
  seconds: number;
  rate: number;
  unit: 'msgs/s' | 'MB/s';
  serverCpuUs: number;
  clientCpuUs: number;
  packetsPerMsg: number | null;
}

class ServerChild {
  private waiters: Array<(m: FromChild) => void> = [];
  private constructor(private readonly child: ChildProcess) {
    child.on('message', (m: FromChild) => this.waiters.shift()?.(m));
  }

  static async start(impl: ImplName, cert: Cert): Promise<{ child: ServerChild; port: number }> {
    const child = fork(new URL('./lib/server-child.ts', import.meta.url), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const sc = new ServerChild(child);
    const ready = sc.next();
    child.send({ impl, cert });
    const m = await ready;
    if (m.type !== 'ready')
      throw new Error(`server child failed: ${m.type === 'error' ? m.message : m.type}`);
    return { child: sc, port: m.port };
  }

  private next(): Promise<FromChild> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async cpu(): Promise<{ us: number; packets: number | null }> {
    const p = this.next();
    this.child.send({ type: 'cpu' });
    const m = await p;
    if (m.type !== 'cpu') throw new Error('unexpected reply');
    return { us: m.userUs + m.systemUs, packets: m.packets };
  }

  async stop(): Promise<void> {
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.send({ type: 'stop' });
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.child.exitCode === null) this.child.kill();
  }
}

const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function measureEcho(
  impl: ImplName,
  row: Row,
  clients: BenchClient[],
  server: ServerChild,
  seconds: number,
): Promise<Measured> {
  const frame = echoFrame(row.size);
  let received = 0;
  let stopping = false;
  let outstanding = 0;
  let resolveIdle: (() => void) | null = null;
  const cap = impl === 'stock' ? STOCK_MSG_CAP : Number.POSITIVE_INFINITY;
  let t0 = 0;
  let base = 0;
  let measuring = false;
  for (const c of clients) {
    c.onFrame = () => {
      received++;
      outstanding--;
      if (!stopping && received - base < cap) {
        outstanding++;
        c.send(frame);
      } else if (outstanding === 0) resolveIdle?.();
    };
  }
  for (const c of clients) {
    for (let i = 0; i < row.window; i++) {
      outstanding++;
      c.send(frame);
    }
  }
  // Warm up, then measure over a fixed wall-clock window.
  await new Promise((r) => setTimeout(r, 300));
  const s0 = await server.cpu();
  const c0 = cpuNow();
  base = received;
  t0 = performance.now();
  measuring = true;
  const done = new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      if (performance.now() - t0 >= seconds * 1000 || received - base >= cap) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  await done;
  const msgs = received - base;
  const elapsed = (performance.now() - t0) / 1000;
  const c1 = cpuNow();
  const s1 = await server.cpu();
  stopping = true;
  void measuring;
  if (outstanding > 0) {
    await Promise.race([
      new Promise<void>((r) => {
        resolveIdle = r;
      }),
      new Promise((r) => setTimeout(r, 3000)),
    ]);
  }
  return {
    impl,
    row: row.name,
    msgs,
    seconds: elapsed,
    rate: msgs / elapsed,
    unit: 'msgs/s',
    serverCpuUs: (s1.us - s0.us) / msgs,
    clientCpuUs: (c1 - c0) / msgs,
    packetsPerMsg: s0.packets !== null && s1.packets !== null ? (s1.packets - s0.packets) / msgs : null,
  };
}

async function measurePush(
  impl: ImplName,
  row: Row,
  client: BenchClient,
  server: ServerChild,
): Promise<Measured> {
  const total = row.total!;
  const frames = Math.ceil(total / row.size);
  let got = 0;
  const s0 = await server.cpu();
  const c0 = cpuNow();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    client.onFrame = () => {
      got++;
      if (got === frames) resolve();
    };
    client.send(pushRequest(total, row.size));
  });
  const elapsed = (performance.now() - t0) / 1000;
  const c1 = cpuNow();
  const s1 = await server.cpu();
  return {
    impl,
    row: row.name,
    msgs: frames,
    seconds: elapsed,
    rate: total / 1e6 / elapsed,
    unit: 'MB/s',
    serverCpuUs: (s1.us - s0.us) / frames,
    clientCpuUs: (c1 - c0) / frames,
    packetsPerMsg: s0.packets !== null && s1.packets !== null ? (s1.packets - s0.packets) / frames : null,
  };
}

async function runImpl(impl: ImplName, cert: Cert, seconds: number): Promise<Measured[]> {
  const out: Measured[] = [];
  const { child, port } = await ServerChild.start(impl, cert);
  try {
    for (const row of ROWS) {
      progress(`${impl}: ${row.name}`);
      const clients: BenchClient[] = [];
      for (let i = 0; i < row.conns; i += 10) {
        const n = Math.min(10, row.conns - i);
        clients.push(
          ...(await Promise.all(Array.from({ length: n }, () => connectClient(impl, port, cert)))),
        );
      }
      const m =
        row.kind === 'push'
          ? await measurePush(impl, row, clients[0]!, child)
          : await measureEcho(impl, row, clients, child, seconds);
      out.push(m);
      progress(
        `${impl}: ${row.name}: ${m.rate.toFixed(1)} ${m.unit}, server ${m.serverCpuUs.toFixed(1)} µs/msg, client ${m.clientCpuUs.toFixed(1)} µs/msg`,
      );
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await child.stop();
  }
  return out;
}

const geomean = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

export async function run(opts: RunOptions = {}): Promise<void> {
  const seconds = opts.seconds ?? 2;
  const cert = await makeTestCert();
  const results: Measured[] = [];
  for (const impl of IMPLS) results.push(...(await runImpl(impl, cert, seconds)));
  const get = (impl: ImplName, row: string) => results.find((r) => r.impl === impl && r.row === row)!;

  const rows: Cell[][] = [];
  const summary: Record<string, unknown>[] = [];
  for (const row of ROWS) {
    const e = get('engine', row.name);
    const s = get('stock', row.name);
    const t = get('tls', row.name);
    const j = get('engine-16k', row.name);
    for (const m of [e, s, t, j]) {
      rows.push([
        m === e ? row.name : '',
        m.impl,
        m.rate,
        m.unit,
        m.serverCpuUs,
        m.clientCpuUs,
        m.packetsPerMsg,
        m === e ? `${(e.rate / s.rate).toFixed(1)}x stock, ${(e.rate / t.rate).toFixed(2)}x tls` : '',
      ]);
    }
    summary.push({
      row: row.name,
      unit: e.unit,
      engine: round(e.rate),
      stock: round(s.rate),
      tls: round(t.rate),
      vsStock: round(e.rate / s.rate),
      vsTls: round(e.rate / t.rate),
      engineServerCpuUsPerMsg: round(e.serverCpuUs),
      engineClientCpuUsPerMsg: round(e.clientCpuUs),
      stockServerCpuUsPerMsg: round(s.serverCpuUs),
      tlsServerCpuUsPerMsg: round(t.serverCpuUs),
      engine16k: round(j.rate),
      enginePacketsPerMsg: e.packetsPerMsg === null ? null : round(e.packetsPerMsg),
    });
  }
  table(['row', 'impl', 'rate', 'unit', 'srv µs/msg', 'cli µs/msg', 'pkts/msg', 'engine vs'], rows);

  const echoRows = ROWS.filter((r) => r.kind === 'echo').map((r) => r.name);
  const value = geomean(echoRows.map((r) => get('engine', r).rate));
  const baseline = geomean(echoRows.map((r) => get('tls', r).rate));
  emitResult({
    scenario: 'raw',
    value: round(value),
    baseline: round(baseline),
    unit: 'msgs/s (geomean of echo rows; baseline node:tls)',
    minVsStock: round(Math.min(...summary.map((s) => s.vsStock as number))),
    minVsTlsEcho: round(
      Math.min(...summary.filter((s) => s.unit === 'msgs/s').map((s) => s.vsTls as number)),
    ),
    rows: summary,
  });
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
