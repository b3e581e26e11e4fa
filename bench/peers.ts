/**
 * Scenario `peers`: GateSvr side by side with Socket.IO 4.8 (WebSocket
 * transport, connection-state recovery) and, when mosquitto is there or can be
 * installed, Mosquitto with mqtt.js QoS 1 clients, on the same workloads in
 * the same run. Every server, producer and client group is its own process.
 *
 * Workloads (256-byte payloads stamped with seq and send time; every receiver
 * checks that nothing was lost, duplicated or reordered):
 *   idle      N idle connections: server RSS delta / N, time to connect N
 *   unicast   one subscriber, acknowledged delivery, 20 sends in flight at the
 *             producer: msgs/s (first send to last arrival) and p99 latency
 *   fan-out   100 broadcasts to C clients (4 client processes): deliveries/s
 *             and time from the first send to the last client's 100th message
 *   resume    Q messages queued while the subscriber is away: time from
 *             reconnect to the Q-th arrival (median of the rounds)
 * A send is confirmed (for the 20-in-flight window) by: GateSvr the push API's
 * response (accepted into the session queue), Socket.IO the client's ack
 * (emitWithAck; broadcast: every client's), MQTT the broker's PUBACK.
 *
 * --quick: small counts for a smoke run. --systems gatesvr,socket.io,mqtt picks systems.
 */
import { loadavg } from 'node:os';
import { BenchChild, type ProcStats } from './lib/child.js';
import type { ResumeResult, WaitResult } from './lib/peers/client-child.js';
import type { PeerConn, SystemName } from './lib/peers/clients.js';
import { ensureMosquitto, startMosquitto } from './lib/peers/mosquitto.js';
import { addTally, EMPTY_TALLY, type Sent, type StreamTally } from './lib/peers/payload.js';
import { type Cell, emitResult, progress, type RunOptions, table } from './lib/report.js';
import {
  benchPatch,
  type GatewayStats,
  percentile,
  round2,
  sleep,
  sortedCopy,
  startStack,
} from './lib/stack.js';

export const usage = `--quick (small counts, a smoke run: about 2 minutes on a loaded 2-core machine) | --systems gatesvr,socket.io,mqtt
  full: unicast 20,000 msgs, fan-out 100 x 1,000 clients, resume 1,000 queued x 5 rounds, 5,000 idle connections`;

const CLIENT_CHILD = new URL('./lib/peers/client-child.ts', import.meta.url);
const SIO_CHILD = new URL('./lib/peers/sio-server-child.ts', import.meta.url);
const PRODUCER_CHILD = new URL('./lib/peers/producer-child.ts', import.meta.url);
const CLIENT_PROCS = 4;
/** Connects under way at once, over all client processes (as bench/lib/stack.ts connectSessions). */
const CONNECT_CONCURRENCY = 48;
const WINDOW = 20;
const WAIT_MS = 180_000;
const KB = 1024;

interface Params {
  unicast: number;
  fanoutClients: number;
  broadcasts: number;
  queued: number;
  rounds: number;
  idle: number;
}
const FULL: Params = {
  unicast: 20_000,
  fanoutClients: 1000,
  broadcasts: 100,
  queued: 1000,
  rounds: 5,
  idle: 5000,
};
const QUICK: Params = {
  unicast: 1000,
  fanoutClients: 50,
  broadcasts: 100,
  queued: 200,
  rounds: 1,
  idle: 100,
};

const LABEL: Record<SystemName, string> = { gatesvr: 'GateSvr', 'socket.io': 'Socket.IO', mqtt: 'Mosquitto' };

/** One system under test: where clients connect, who produces, how the server's RSS is read. */
interface Sut {
  name: SystemName;
  conn: PeerConn;
  producer: BenchChild;
  /** Server RSS in bytes after a settle (forced GC where the server is a Node process). */
  settledRss(): Promise<number>;
  /** Resolves once the server has noticed that the (only) client dropped. */
  detached(): Promise<void>;
  /** Resolves once the server holds no session of the clients closed before (STOP processed). */
  empty(): Promise<void>;
  stop(): Promise<void>;
}

interface Measured {
  idleKbPerConn: number;
  connectSeconds: number;
  unicastRate: number;
  unicastP99: number;
  unicastP50: number;
  fanoutRate: number;
  fanoutMs: number;
  resumeMs: number;
  resumeMaxMs: number;
  integrity: Record<string, StreamTally & { expected: number }>;
  resumeRecovered: boolean;
}

async function settleNode(child: BenchChild): Promise<number> {
  await sleep(500);
  await child.stats(true);
  await sleep(200);
  return (await child.stats(true)).rss;
}

async function startGatesvr(opts: RunOptions): Promise<Sut> {
  const stack = await startStack(
    opts,
    'peers',
    benchPatch({ server: { maxQueue: 5000, ackTimeoutMs: 120_000, resumeWindowMs: 120_000 } }),
  );
  const { child } = await BenchChild.start(PRODUCER_CHILD, 'gatesvr producer', {
    system: 'gatesvr',
    target: stack.grpcTarget,
  });
  return {
    name: 'gatesvr',
    conn: { port: stack.quicPort, caPem: stack.cert.certPem },
    producer: child,
    settledRss: () => settleNode(stack.gateway),
    async detached() {
      while ((await stack.gateway.stats<GatewayStats>()).connections > 0) await sleep(10);
    },
    async empty() {
      for (let i = 0; i < 600 && (await stack.gateway.stats<GatewayStats>()).sessions > 0; i++)
        await sleep(100);
    },
    async stop() {
      await child.stop();
      await stack.stop();
    },
  };
}

async function startSocketIo(): Promise<Sut> {
  const { child, ready } = await BenchChild.start<{ port: number }>(SIO_CHILD, 'socket.io server', {});
  progress(`socket.io server pid ${child.pid} (port ${ready.port})`);
  return {
    name: 'socket.io',
    conn: { port: ready.port },
    producer: child,
    settledRss: () => settleNode(child),
    // The server child's `queue` waits for the disconnect itself.
    detached: async () => {},
    async empty() {
      for (let i = 0; i < 600 && (await child.stats<{ clients: number } & ProcStats>()).clients > 0; i++)
        await sleep(100);
    },
    stop: () => child.stop(),
  };
}

async function startMqtt(): Promise<Sut> {
  const broker = await startMosquitto();
  progress(`mosquitto pid ${broker.pid} (port ${broker.port})`);
  const { child } = await BenchChild.start(PRODUCER_CHILD, 'mqtt producer', {
    system: 'mqtt',
    target: String(broker.port),
  });
  return {
    name: 'mqtt',
    conn: { port: broker.port },
    producer: child,
    async settledRss() {
      await sleep(700);
      return broker.rss();
    },
    // The client closes the socket itself; the broker sees the EOF at once.
    detached: () => sleep(100),
    empty: () => sleep(100),
    async stop() {
      await child.stop();
      await broker.stop();
    },
  };
}

class Clients {
  private constructor(readonly procs: BenchChild[]) {}

  static async start(sut: Sut): Promise<Clients> {
    const procs = await Promise.all(
      Array.from({ length: CLIENT_PROCS }, async (_, k) => {
        const { child } = await BenchChild.start(CLIENT_CHILD, `${sut.name} clients ${k}`, {
          system: sut.name,
          conn: sut.conn,
        });
        return child;
      }),
    );
    return new Clients(procs);
  }

  /** n clients spread over the processes; resolves with the wall seconds. */
  async connect(n: number, prefix: string, persistent = false): Promise<number> {
    const t0 = performance.now();
    await Promise.all(
      this.procs.map((p, k) => {
        const share = Math.floor(n / this.procs.length) + (k < n % this.procs.length ? 1 : 0);
        return share > 0
          ? p.request({
              type: 'connect',
              n: share,
              prefix: `${prefix}${k}`,
              persistent,
              concurrency: CONNECT_CONCURRENCY / this.procs.length,
            })
          : null;
      }),
    );
    return (performance.now() - t0) / 1000;
  }

  expect(count: number, latency = false): Promise<unknown> {
    return Promise.all(this.procs.map((p) => p.request({ type: 'expect', count, latency })));
  }

  async wait(): Promise<WaitResult> {
    const rs = await Promise.all(
      this.procs.map((p) => p.request<WaitResult>({ type: 'wait', timeoutMs: WAIT_MS })),
    );
    return {
      complete: rs.every((r) => r.complete),
      tally: rs.reduce((a, r) => addTally(a, r.tally), EMPTY_TALLY),
      lastAt: Math.max(...rs.map((r) => r.lastAt)),
      latencies: rs.flatMap((r) => r.latencies),
    };
  }

  closeAll(): Promise<unknown> {
    return Promise.all(this.procs.map((p) => p.request({ type: 'closeAll' })));
  }

  stop(): Promise<unknown> {
    return Promise.all(this.procs.map((p) => p.stop()));
  }
}

function mustBeWhole(what: string, r: WaitResult): void {
  if (!r.complete) progress(`  ${what}: NOT complete within ${WAIT_MS / 1000} s`);
}

async function measure(sut: Sut, p: Params): Promise<Measured> {
  const clients = await Clients.start(sut);
  const label = LABEL[sut.name];
  const integrity: Measured['integrity'] = {};
  try {
    // Idle connections first, on a fresh server (one warm-up client so lazily built state is not counted).
    await clients.procs[0]!.request({
      type: 'connect',
      n: 1,
      prefix: 'warm',
      persistent: false,
      concurrency: 1,
    });
    const rss0 = await sut.settledRss();
    progress(`${label}: connecting ${p.idle} idle clients`);
    const connectSeconds = await clients.connect(p.idle, 'idle');
    const rss1 = await sut.settledRss();
    const idleKbPerConn = (rss1 - rss0) / p.idle / KB;
    progress(`  ${connectSeconds.toFixed(1)} s, ${idleKbPerConn.toFixed(1)} KB RSS each`);
    await clients.closeAll();
    await sut.empty();

    // Unicast: one subscriber, a warm-up then the measured run.
    const one = clients.procs[0]!;
    await one.request({ type: 'connect', n: 1, prefix: 'u', persistent: false, concurrency: 1 });
    const unicast = async (n: number) => {
      await one.request({ type: 'expect', count: n, latency: true });
      const sent = await sut.producer.request<Sent>({ type: 'unicast', target: 'u-0', n, window: WINDOW });
      const r = await one.request<WaitResult>({ type: 'wait', timeoutMs: WAIT_MS });
      mustBeWhole('unicast', r);
      return { sent, r };
    };
    await unicast(Math.min(500, Math.ceil(p.unicast / 10)));
    progress(`${label}: unicast ${p.unicast} msgs, ${WINDOW} in flight`);
    const u = await unicast(p.unicast);
    integrity['unicast'] = { ...u.r.tally, expected: p.unicast };
    const lat = sortedCopy(u.r.latencies);
    const unicastRate = p.unicast / ((u.r.lastAt - u.sent.startAt) / 1000);
    progress(`  ${unicastRate.toFixed(0)} msgs/s, p99 ${percentile(lat, 99).toFixed(2)} ms`);
    await clients.closeAll();
    await sut.empty();

    // Fan-out: C clients over the client processes, a warm-up of 10 broadcasts then B.
    progress(`${label}: fan-out, ${p.broadcasts} broadcasts to ${p.fanoutClients} clients`);
    await clients.connect(p.fanoutClients, 'f');
    const fanout = async (n: number) => {
      await clients.expect(n);
      const sent = await sut.producer.request<Sent>({
        type: 'broadcast',
        n,
        window: WINDOW,
        expect: p.fanoutClients,
      });
      const r = await clients.wait();
      mustBeWhole('fan-out', r);
      return { sent, r };
    };
    await fanout(10);
    const f = await fanout(p.broadcasts);
    integrity['fan-out'] = { ...f.r.tally, expected: p.broadcasts * p.fanoutClients };
    const fanoutMs = f.r.lastAt - f.sent.startAt;
    const fanoutRate = (p.broadcasts * p.fanoutClients) / (fanoutMs / 1000);
    progress(`  ${fanoutRate.toFixed(0)} deliveries/s, full delivery in ${fanoutMs.toFixed(0)} ms`);
    await clients.closeAll();
    await sut.empty();

    // Resume: the subscriber drops, Q messages are queued for it, it reconnects.
    progress(`${label}: resume with ${p.queued} queued, ${p.rounds} round(s)`);
    await one.request({ type: 'connect', n: 1, prefix: 'r', persistent: true, concurrency: 1 });
    const times: number[] = [];
    let tally = EMPTY_TALLY;
    let recovered = true;
    for (let i = 0; i < p.rounds; i++) {
      await one.request({ type: 'drop', index: 0 });
      await sut.detached();
      await sut.producer.request({ type: 'queue', target: 'r-0', n: p.queued });
      const r = await one.request<ResumeResult>({
        type: 'resume',
        index: 0,
        count: p.queued,
        timeoutMs: WAIT_MS,
      });
      if (!r.complete) progress(`  resume round ${i + 1}: NOT complete`);
      times.push(r.ms);
      tally = addTally(tally, r.tally);
      recovered &&= r.recovered;
      await sleep(300); // let the last acknowledgements go out before the next drop
    }
    integrity['resume'] = { ...tally, expected: p.queued * p.rounds };
    const rs = sortedCopy(times);
    progress(`  median ${percentile(rs, 50).toFixed(1)} ms (recovered: ${recovered})`);
    await clients.closeAll();
    await sut.empty();

    return {
      idleKbPerConn,
      connectSeconds,
      unicastRate,
      unicastP99: percentile(lat, 99),
      unicastP50: percentile(lat, 50),
      fanoutRate,
      fanoutMs,
      resumeMs: percentile(rs, 50),
      resumeMaxMs: rs[rs.length - 1]!,
      integrity,
      resumeRecovered: recovered,
    };
  } finally {
    await clients.stop();
  }
}

interface Metric {
  name: string;
  unit: string;
  better: 'higher' | 'lower';
  of: (m: Measured) => number;
}

function metrics(p: Params): Metric[] {
  return [
    { name: `unicast, ${WINDOW} in flight`, unit: 'msgs/s', better: 'higher', of: (m) => m.unicastRate },
    { name: 'unicast latency p50', unit: 'ms', better: 'lower', of: (m) => m.unicastP50 },
    { name: 'unicast latency p99', unit: 'ms', better: 'lower', of: (m) => m.unicastP99 },
    {
      name: `fan-out ${p.broadcasts} x ${p.fanoutClients}`,
      unit: 'deliveries/s',
      better: 'higher',
      of: (m) => m.fanoutRate,
    },
    { name: 'fan-out time to full delivery', unit: 'ms', better: 'lower', of: (m) => m.fanoutMs },
    { name: `resume, ${p.queued} queued (median)`, unit: 'ms', better: 'lower', of: (m) => m.resumeMs },
    { name: `resume, ${p.queued} queued (max)`, unit: 'ms', better: 'lower', of: (m) => m.resumeMaxMs },
    {
      name: `idle memory, ${p.idle} conns`,
      unit: 'KB RSS/conn',
      better: 'lower',
      of: (m) => m.idleKbPerConn,
    },
    { name: `connect ${p.idle} clients`, unit: 's', better: 'lower', of: (m) => m.connectSeconds },
  ];
}

export async function run(opts: RunOptions = {}): Promise<void> {
  const quick = opts.args?.['quick'] !== undefined;
  const p = quick ? QUICK : FULL;
  const wanted = (opts.args?.['systems'] ?? 'gatesvr,socket.io,mqtt').split(',') as SystemName[];
  const notes: string[] = [];
  const loadStart = loadavg();
  progress(
    `load average at start: ${loadStart.map((x) => x.toFixed(2)).join(' ')}${quick ? ' (quick mode)' : ''}`,
  );

  const results = new Map<SystemName, Measured>();
  for (const name of (['gatesvr', 'socket.io', 'mqtt'] as const).filter((s) => wanted.includes(s))) {
    if (name === 'mqtt') {
      const m = ensureMosquitto();
      if (!m.ok) {
        notes.push(m.note);
        progress(m.note);
        continue;
      }
    }
    progress(`--- ${LABEL[name]} ---`);
    const sut =
      name === 'gatesvr'
        ? await startGatesvr(opts)
        : name === 'socket.io'
          ? await startSocketIo()
          : await startMqtt();
    try {
      results.set(name, await measure(sut, p));
    } finally {
      await sut.stop();
    }
  }
  const loadEnd = loadavg();

  const systems = [...results.keys()];
  const gs = results.get('gatesvr');
  const sio = results.get('socket.io');
  const ms = metrics(p);
  const ratioOf = (m: Metric) => (gs && sio ? m.of(gs) / m.of(sio) : null);
  table(
    ['workload', 'unit', ...systems.map((s) => LABEL[s]), 'GateSvr / Socket.IO', 'better'],
    ms.map((m): Cell[] => {
      const r = ratioOf(m);
      return [
        m.name,
        m.unit,
        ...systems.map((s) => m.of(results.get(s)!)),
        r === null ? null : r.toFixed(2),
        m.better,
      ];
    }),
  );
  const checks: Cell[][] = [];
  let clean = true;
  for (const s of systems) {
    for (const [w, t] of Object.entries(results.get(s)!.integrity)) {
      const ok = t.lost === 0 && t.duplicated === 0 && t.reordered === 0 && t.received === t.expected;
      clean &&= ok;
      checks.push([
        `${LABEL[s]} ${w}`,
        String(t.expected),
        String(t.received),
        String(t.lost),
        String(t.duplicated),
        String(t.reordered),
        ok ? 'ok' : 'FAILED',
      ]);
    }
  }
  table(['delivery check', 'expected', 'received', 'lost', 'duplicated', 'reordered', ''], checks);
  progress(`load average at end: ${loadEnd.map((x) => x.toFixed(2)).join(' ')} (2 cores, shared)`);
  for (const n of notes) progress(`note: ${n}`);

  const unicast = ms[0]!;
  emitResult({
    scenario: 'peers',
    value: gs ? round2(unicast.of(gs)) : 0,
    baseline: sio ? round2(unicast.of(sio)) : 0,
    unit: `msgs/s, one subscriber, acknowledged, ${WINDOW} in flight (baseline: Socket.IO 4.8 over WebSocket)`,
    quick,
    params: p,
    deliveryClean: clean,
    loadavgStart: loadStart.map(round2),
    loadavgEnd: loadEnd.map(round2),
    notes,
    rows: ms.map((m) => {
      const r = ratioOf(m);
      return {
        workload: m.name,
        unit: m.unit,
        better: m.better,
        ...Object.fromEntries(systems.map((s) => [s, round2(m.of(results.get(s)!))])),
        ratio: r === null ? null : round2(r),
      };
    }),
    delivery: Object.fromEntries(systems.map((s) => [s, results.get(s)!.integrity])),
    resumeRecovered: Object.fromEntries(systems.map((s) => [s, results.get(s)!.resumeRecovered])),
  });
}
