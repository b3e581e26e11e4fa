/**
 * Scenario `fanout`: 100 BroadcastToClients (all sent at once) to 1,000 SDK
 * clients; deliveries per second and the time until every client has every
 * notify (in order, deduplicated), plus the gateway's CPU per delivery. The
 * fair ceiling in the same run: the bare QUIC engine writing the same framed
 * NOTIFY once per connection per event-loop turn, 100 turns (one round per
 * broadcast), timed the same way at the clients.
 *
 *   --sessions N   clients (1000)     --broadcasts N  per run (100)
 *   --runs N       timed runs (3, after one untimed warm-up run); the median is reported
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
  sleep,
  startEngineChild,
  startStack,
} from './lib/stack.js';

export const usage = '--sessions N (1000) --broadcasts N (100) --runs N (3)';

const NOTIFY = { msgType: 'bench', title: 'push', content: 'x'.repeat(64) };

interface Run {
  /** Milliseconds from the first broadcast sent to the last delivery. */
  fullMs: number;
  deliveriesPerSec: number;
  /** Server CPU µs per delivery (gateway or engine child). */
  serverUs: number;
  clientUs: number;
}

/** Resolves once `count()` reaches `target` (checked on every delivery via `poke`). */
function waiter(count: () => number, target: number): { poke: () => void; done: Promise<void> } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const poke = () => {
    if (count() >= target) resolve();
  };
  return { poke, done };
}

const median = (runs: Run[]): Run => {
  const sorted = [...runs].sort((a, b) => a.fullMs - b.fullMs);
  return sorted[Math.floor(sorted.length / 2)]!;
};

async function engineRuns(n: number, rounds: number, runs: number): Promise<Run[]> {
  const { child, connect } = await startEngineChild();
  const frame = Buffer.from(notifyFrame(100_000, NotifyMessage.encode(NOTIFY)));
  const open: StreamConnection[] = [];
  let received = 0;
  let onFrame = () => {};
  const out: Run[] = [];
  try {
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
                let k = dec.push(chunk).length;
                if (first) {
                  first = false;
                  resolve();
                  k--;
                }
                received += k;
                if (k > 0) onFrame();
              };
            });
            c.write(frame); // opens the stream; echoed back
            await echoed;
            return c;
          }),
        )),
      );
    }
    for (let r = 0; r <= runs; r++) {
      const w = waiter(() => received, received + n * rounds);
      onFrame = w.poke;
      const s0 = await child.stats();
      const c0 = cpuNow();
      const t0 = performance.now();
      await child.request({ type: 'rounds', frame: frame.toString('base64'), n: rounds });
      await w.done;
      const ms = performance.now() - t0;
      const s1 = await child.stats();
      const c1 = cpuNow();
      if (r === 0) continue; // warm-up
      const total = n * rounds;
      out.push({
        fullMs: ms,
        deliveriesPerSec: total / (ms / 1000),
        serverUs: (s1.cpuUs - s0.cpuUs) / total,
        clientUs: (c1 - c0) / total,
      });
      progress(`  engine: ${total} frames in ${ms.toFixed(0)} ms`);
    }
  } finally {
    for (const c of open) c.close(0);
    await sleep(200);
    await child.stop();
  }
  return out;
}

async function gatewayRuns(
  opts: RunOptions,
  n: number,
  broadcasts: number,
  runs: number,
): Promise<{ runs: Run[]; refused: number; drained: boolean }> {
  const stack = await startStack(
    opts,
    'fanout',
    benchPatch({ server: { maxQueue: broadcasts * 4, ackTimeoutMs: 120_000 } }),
  );
  const clients: GateClient[] = [];
  const out: Run[] = [];
  let refused = 0;
  let drained = true;
  const producer = new PushClient(stack.grpcTarget, 60_000);
  try {
    progress(`connecting ${n} sessions`);
    clients.push(...(await connectSessions(stack, n, 'fan')));
    let delivered = 0;
    let onDelivery = () => {};
    const offs = clients.map((c) =>
      c.onDelivered(() => {
        delivered++;
        void c.nextNotify(); // the SDK buffers notifies for nextNotify(): take it so nothing piles up
        onDelivery();
      }),
    );
    for (let r = 0; r <= runs; r++) {
      const total = n * broadcasts;
      const w = waiter(() => delivered, delivered + total);
      onDelivery = w.poke;
      const g0 = await stack.gateway.stats<GatewayStats>();
      const c0 = cpuNow();
      const t0 = performance.now();
      const answers = await Promise.all(
        Array.from({ length: broadcasts }, () => producer.broadcast({ ...NOTIFY, zone: 0 })),
      );
      for (const a of answers) refused += n - a.deliveredCount;
      await w.done;
      const ms = performance.now() - t0;
      const g1 = await stack.gateway.stats<GatewayStats>();
      const c1 = cpuNow();
      // Every delivery acknowledged before the next run (the SDK ACKs every 32 or after 50 ms).
      drained = false;
      for (let i = 0; i < 200; i++) {
        if ((await stack.gateway.stats<GatewayStats>()).pending === 0) {
          drained = true;
          break;
        }
        await sleep(50);
      }
      if (r === 0) continue; // warm-up
      out.push({
        fullMs: ms,
        deliveriesPerSec: total / (ms / 1000),
        serverUs: (g1.cpuUs - g0.cpuUs) / total,
        clientUs: (c1 - c0) / total,
      });
      progress(`  gateway: ${total} deliveries in ${ms.toFixed(0)} ms, drained ${drained}`);
    }
    for (const off of offs) off();
  } finally {
    producer.close();
    await closeSessions(clients);
    await stack.stop();
  }
  return { runs: out, refused, drained };
}

export async function run(opts: RunOptions = {}): Promise<void> {
  const n = Number(opts.args?.['sessions'] ?? 1000);
  const broadcasts = Number(opts.args?.['broadcasts'] ?? 100);
  const runs = Number(opts.args?.['runs'] ?? 3);
  progress(`engine: ${n} connections, ${broadcasts} rounds of one frame each`);
  const engine = await engineRuns(n, broadcasts, runs);
  progress(`gateway: ${n} sessions, ${broadcasts} broadcasts at once`);
  const gw = await gatewayRuns(opts, n, broadcasts, runs);
  const e = median(engine);
  const g = median(gw.runs);
  const rows: Cell[][] = [
    [`gateway ${broadcasts} broadcasts`, g.deliveriesPerSec, g.fullMs, g.serverUs, g.clientUs, gw.refused],
    [`engine ${broadcasts} rounds`, e.deliveriesPerSec, e.fullMs, e.serverUs, e.clientUs, null],
  ];
  table(
    ['row', 'deliveries/s', 'full delivery ms', 'server µs/delivery', 'client µs/delivery', 'refused'],
    rows,
  );
  emitResult({
    scenario: 'fanout',
    value: round2(g.deliveriesPerSec),
    baseline: round2(e.deliveriesPerSec),
    unit: `NOTIFY deliveries/s, ${broadcasts} broadcasts to ${n} SDK clients (median of ${runs}; baseline bare engine, one frame per connection per turn)`,
    sessions: n,
    broadcasts,
    gateway: {
      fullDeliveryMs: round2(g.fullMs),
      cpuUsPerDelivery: round2(g.serverUs),
      refused: gw.refused,
      drained: gw.drained,
      runs: gw.runs.map((r) => round2(r.fullMs)),
    },
    engine: {
      fullDeliveryMs: round2(e.fullMs),
      cpuUsPerFrame: round2(e.serverUs),
      runs: engine.map((r) => round2(r.fullMs)),
    },
  });
}
