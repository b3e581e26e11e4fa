/**
 * Scenario `push`: reliable NOTIFY delivered and acknowledged per second through
 * the gateway, against the bare QUIC engine (a child running createQuicServer)
 * writing the same framed NOTIFY bytes (notifyFrame, same size) as fast as flow
 * control takes them, in the same run.
 *
 * Gateway rows (producer: GatewayService over gRPC from this process, a few
 * RPCs in flight; clients: the SDK, auto ACK every 32 pushes or 50 ms):
 *   1 session      BatchPushToClients, the same openid 200 times per RPC
 *   1000 sessions  BatchPushToClients, each of 1000 openids once per RPC
 *   broadcast      BroadcastToClients to 1000 NORMAL sessions
 * The rate counts pushes delivered in order to the clients during the window;
 * every one must also be acknowledged (the gateway's pending count drains to 0
 * after the producers stop: `drained`). `acked/s` is what the gateway saw
 * acknowledged during the window (sum of every session's last acked seq); it
 * trails delivery when ACKs queue up. `server.max_queue` is raised and
 * QUEUE_FULL refusals counted.
 */
import type { GateClient } from '../src/client/gate-client.js';
import { PushClient } from '../src/client/push-client.js';
import { notifyFrame } from '../src/protocol/frames.js';
import { FrameDecoder } from '../src/protocol/framing.js';
import { NotifyMessage } from '../src/protocol/messages.js';
import type { StreamConnection } from '../src/transport/quic/types.js';
import { type Cell, emitResult, progress, type RunOptions, table } from './lib/report.js';
import {
  benchPatch,
  closeSessions,
  connectSessions,
  cpuNow,
  type GatewayStats,
  round2,
  type Stack,
  sleep,
  startEngineChild,
  startStack,
} from './lib/stack.js';

const CONTENT = 'x'.repeat(64);
const NOTIFY = { msgType: 'bench', title: 'push', content: CONTENT };
const INFLIGHT = 4;
const SAME_OPENID_PER_RPC = 200;
const MAX_QUEUE = 20_000;

interface Measured {
  row: string;
  sessions: number;
  /** Delivered per second (in order, deduplicated, at the clients). */
  rate: number;
  /** Acknowledged per second as the gateway saw it. */
  acked: number;
  seconds: number;
  refused: number;
  /** CPU µs per push: server side (gateway or engine child) and this process. */
  serverUs: number;
  clientUs: number;
  drained?: boolean;
}

/** The framed NOTIFY a session receives (seq in the same varint size class as the run's). */
function sampleFrame(): Uint8Array {
  return notifyFrame(100_000, NotifyMessage.encode(NOTIFY));
}

async function gatewayRow(
  stack: Stack,
  clients: GateClient[],
  row: string,
  rpc: (p: PushClient) => Promise<number>,
  seconds: number,
): Promise<Measured> {
  const producer = new PushClient(stack.grpcTarget, 60_000);
  let stopping = false;
  let refused = 0;
  let delivered = 0;
  const offs = clients.map((c) =>
    c.onDelivered(() => {
      delivered++;
      void c.nextNotify(); // the SDK buffers notifies for nextNotify(): take it so nothing piles up
    }),
  );
  const loops = Array.from({ length: INFLIGHT }, async () => {
    while (!stopping) {
      try {
        refused += await rpc(producer);
      } catch (e) {
        if (!stopping) throw e;
      }
    }
  });
  await sleep(1000);
  const g0 = await stack.gateway.stats<GatewayStats>();
  const c0 = cpuNow();
  const d0 = delivered;
  const r0 = refused;
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const g1 = await stack.gateway.stats<GatewayStats>();
  const c1 = cpuNow();
  const elapsed = (performance.now() - t0) / 1000;
  const d1 = delivered;
  const r1 = refused;
  stopping = true;
  await Promise.all(loops);
  // Everything accepted must still be delivered and acknowledged.
  let drained = false;
  for (let i = 0; i < 100; i++) {
    const g = await stack.gateway.stats<GatewayStats>();
    if (g.pending === 0) {
      drained = true;
      break;
    }
    await sleep(50);
  }
  for (const off of offs) off();
  producer.close();
  const acked = g1.acked - g0.acked;
  return {
    row,
    sessions: clients.length,
    rate: (d1 - d0) / elapsed,
    acked: acked / elapsed,
    seconds: elapsed,
    refused: r1 - r0,
    serverUs: (g1.cpuUs - g0.cpuUs) / Math.max(1, d1 - d0),
    clientUs: (c1 - c0) / Math.max(1, d1 - d0),
    drained,
  };
}

async function engineRows(conns: number[], seconds: number): Promise<Measured[]> {
  const { child, connect } = await startEngineChild();
  const frame = Buffer.from(sampleFrame());
  const open: StreamConnection[] = [];
  let received = 0;
  const out: Measured[] = [];
  try {
    for (const n of conns) {
      while (open.length < n) {
        const batch = Math.min(50, n - open.length);
        open.push(
          ...(await Promise.all(
            Array.from({ length: batch }, async () => {
              const c = await connect();
              const dec = new FrameDecoder(1024 * 1024);
              const echoed = new Promise<void>((resolve) => {
                let first = true;
                c.onData = (chunk) => {
                  const k = dec.push(chunk).length;
                  if (first) {
                    first = false;
                    resolve();
                    received += k - 1;
                  } else received += k;
                };
              });
              c.write(frame); // opens the stream; echoed back
              await echoed;
              return c;
            }),
          )),
        );
      }
      progress(`engine: ${n} connection(s), pumping ${frame.length}-byte frames`);
      await child.request({ type: 'pump', frame: frame.toString('base64') });
      await sleep(1000);
      const s0 = await child.stats();
      const c0 = cpuNow();
      const n0 = received;
      const t0 = performance.now();
      await sleep(seconds * 1000);
      const n1 = received;
      const s1 = await child.stats();
      const c1 = cpuNow();
      const elapsed = (performance.now() - t0) / 1000;
      await child.request({ type: 'halt' });
      await sleep(300);
      const got = n1 - n0;
      out.push({
        row: `engine ${n} conn`,
        sessions: n,
        rate: got / elapsed,
        acked: got / elapsed,
        seconds: elapsed,
        refused: 0,
        serverUs: (s1.cpuUs - s0.cpuUs) / Math.max(1, got),
        clientUs: (c1 - c0) / Math.max(1, got),
      });
      progress(`  ${(got / elapsed).toFixed(0)} frames/s`);
    }
  } finally {
    for (const c of open) c.close(0);
    await sleep(200);
    await child.stop();
  }
  return out;
}

export async function run(opts: RunOptions = {}): Promise<void> {
  const seconds = opts.seconds ?? 3;
  const engine = await engineRows([1, 1000], seconds);

  const stack = await startStack(
    opts,
    'push',
    benchPatch({ server: { maxQueue: MAX_QUEUE, ackTimeoutMs: 120_000 } }),
  );
  const gw: Measured[] = [];
  const clients: GateClient[] = [];
  const measure = async (row: string, sessions: GateClient[], rpc: (p: PushClient) => Promise<number>) => {
    const m = await gatewayRow(stack, sessions, row, rpc, seconds);
    gw.push(m);
    progress(`  ${m.rate.toFixed(0)} pushes/s`);
  };
  /** One BatchPushToClients to `targets`; resolves with how many it refused. */
  const batchTo = (targets: Array<{ targetType: string; targetId: string }>) => async (p: PushClient) => {
    const r = await p.batch({ targets, ...NOTIFY });
    return r.totalCount - r.successCount;
  };
  try {
    clients.push(...(await connectSessions(stack, 1, 'push')));
    const one = clients[0]!;
    const sameTargets = Array.from({ length: SAME_OPENID_PER_RPC }, () => ({
      targetType: 'openid',
      targetId: 'push-0',
    }));
    progress(`gateway: 1 session, batch of ${SAME_OPENID_PER_RPC} x ${INFLIGHT} in flight`);
    await measure('1 session (batch)', [one], batchTo(sameTargets));

    progress('connecting 999 more sessions');
    clients.push(...(await connectSessions(stack, 999, 'push1k')));
    const allTargets = clients.map((_, i) => ({
      targetType: 'openid',
      targetId: i === 0 ? 'push-0' : `push1k-${i - 1}`,
    }));
    progress(`gateway: 1000 sessions, batch of 1000 distinct openids x ${INFLIGHT} in flight`);
    await measure('1000 sessions (batch)', clients, batchTo(allTargets));
    progress(`gateway: broadcast to 1000 sessions x ${INFLIGHT} in flight`);
    await measure('broadcast 1000', clients, async (p) => {
      const r = await p.broadcast({ ...NOTIFY, zone: 0 });
      return clients.length - r.deliveredCount;
    });
  } finally {
    await closeSessions(clients);
    await stack.stop();
  }

  const e1 = engine[0]!;
  const e1k = engine[1]!;
  const ceilingOf = (m: Measured) => (m.sessions === 1 ? e1 : e1k);
  const rows: Cell[][] = [];
  for (const m of [...gw, ...engine]) {
    const isGw = !m.row.startsWith('engine');
    rows.push([
      m.row,
      m.rate,
      isGw ? m.acked : null,
      m.serverUs,
      m.clientUs,
      isGw ? m.refused : null,
      isGw ? String(m.drained) : null,
      isGw ? (m.rate / ceilingOf(m).rate).toFixed(3) : '',
    ]);
  }
  table(
    [
      'row',
      'delivered/s',
      'acked/s',
      'server µs/push',
      'client µs/push',
      'QUEUE_FULL',
      'drained',
      'vs engine',
    ],
    rows,
  );
  const frameBytes = sampleFrame().length;
  const geo = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
  emitResult({
    scenario: 'push',
    value: round2(geo(gw.map((m) => m.rate))),
    baseline: round2(geo(gw.map((m) => ceilingOf(m).rate))),
    unit: `NOTIFY/s delivered, all acked (geomean of 3 rows; baseline bare engine pushing the same ${frameBytes}-byte frames)`,
    goal: 0.5,
    frameBytes,
    rows: gw.map((m) => ({
      row: m.row,
      deliveredPerSec: round2(m.rate),
      ackedPerSec: round2(m.acked),
      ceilingPerSec: round2(ceilingOf(m).rate),
      ratio: round2(m.rate / ceilingOf(m).rate),
      queueFull: m.refused,
      drained: m.drained,
      gatewayCpuUsPerPush: round2(m.serverUs),
      clientCpuUsPerPush: round2(m.clientUs),
    })),
    engine: engine.map((m) => ({
      conns: m.sessions,
      framesPerSec: round2(m.rate),
      serverCpuUsPerFrame: round2(m.serverUs),
      clientCpuUsPerFrame: round2(m.clientUs),
    })),
  });
}
