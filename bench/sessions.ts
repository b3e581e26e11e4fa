/**
 * Scenario `sessions`: N idle sessions held by the gateway (connected, logged
 * in), RSS per session, against the same N bare engine connections held by an
 * engine server child (stream open, one frame echoed). RSS is read after a
 * forced GC in each child; per-session = (RSS with N - RSS before) / N.
 * `--sessions N` (default 2000).
 */
import type { GateClient } from '../src/client/gate-client.js';
import type { StreamConnection } from '../src/transport/quic/types.js';
import type { BenchChild, ProcStats } from './lib/child.js';
import { emitResult, progress, type RunOptions, table } from './lib/report.js';
import {
  benchPatch,
  closeSessions,
  connectSessions,
  type GatewayStats,
  round2,
  sleep,
  startEngineChild,
  startStack,
} from './lib/stack.js';

interface Held {
  what: string;
  n: number;
  before: ProcStats;
  after: ProcStats;
  setupSeconds: number;
}

const KB = 1024;

async function settle(child: BenchChild): Promise<ProcStats> {
  await sleep(500);
  await child.stats(true);
  await sleep(200);
  return child.stats(true);
}

async function gatewayHeld(opts: RunOptions, n: number): Promise<Held> {
  const stack = await startStack(opts, 'sessions', benchPatch());
  const clients: GateClient[] = [];
  try {
    // One session first, so lazily built state (grpc channels, codecs, JIT) is not counted per session.
    clients.push(...(await connectSessions(stack, 1, 'warm')));
    const before = await settle(stack.gateway);
    progress(`gateway: connecting ${n} sessions (login via hello)`);
    const t0 = performance.now();
    clients.push(...(await connectSessions(stack, n, 'idle')));
    const setupSeconds = (performance.now() - t0) / 1000;
    const after = await settle(stack.gateway);
    const s = await stack.gateway.stats<GatewayStats>();
    if (s.sessions !== n + 1) throw new Error(`gateway holds ${s.sessions} sessions, expected ${n + 1}`);
    return { what: 'gateway sessions', n, before, after, setupSeconds };
  } finally {
    await closeSessions(clients);
    await stack.stop();
  }
}

async function engineHeld(n: number): Promise<Held> {
  const { child, connect } = await startEngineChild();
  const open: StreamConnection[] = [];
  const hello = Buffer.from([0, 0, 0, 4, 1, 2, 3, 4]);
  const connectOne = async () => {
    const c = await connect({ keepAliveMs: 10_000 });
    await new Promise<void>((resolve) => {
      c.onData = () => resolve();
      c.write(hello);
    });
    return c;
  };
  try {
    open.push(await connectOne());
    const before = await settle(child);
    progress(`engine: connecting ${n} connections`);
    const t0 = performance.now();
    while (open.length < n + 1) {
      const k = Math.min(50, n + 1 - open.length);
      open.push(...(await Promise.all(Array.from({ length: k }, connectOne))));
    }
    const setupSeconds = (performance.now() - t0) / 1000;
    const after = await settle(child);
    return { what: 'engine connections', n, before, after, setupSeconds };
  } finally {
    for (const c of open) c.close(0);
    await sleep(200);
    await child.stop();
  }
}

export async function run(opts: RunOptions = {}): Promise<void> {
  const n = Number(opts.args?.['sessions'] ?? 2000);
  if (!Number.isInteger(n) || n < 1) throw new Error('--sessions must be a positive integer');
  const eng = await engineHeld(n);
  const gw = await gatewayHeld(opts, n);
  const per = (h: Held, k: keyof ProcStats) => (h.after[k] - h.before[k]) / h.n;
  table(
    [
      'held',
      'N',
      'RSS before MB',
      'RSS after MB',
      'RSS KB/each',
      'heap KB/each',
      'external KB/each',
      'setup s',
    ],
    [gw, eng].map((h) => [
      h.what,
      String(h.n),
      h.before.rss / KB / KB,
      h.after.rss / KB / KB,
      per(h, 'rss') / KB,
      per(h, 'heapUsed') / KB,
      per(h, 'external') / KB,
      h.setupSeconds,
    ]),
  );
  const ratio = per(gw, 'rss') / per(eng, 'rss');
  progress(`goal <= 2x a raw connection: ${ratio <= 2 ? 'met' : `missed (${ratio.toFixed(2)}x)`}`);
  emitResult({
    scenario: 'sessions',
    value: round2(per(gw, 'rss') / KB),
    baseline: round2(per(eng, 'rss') / KB),
    unit: 'KB RSS per idle session (baseline: per bare engine connection)',
    goalRatio: 2,
    sessions: n,
    gatewayHeapKbPerSession: round2(per(gw, 'heapUsed') / KB),
    engineHeapKbPerConn: round2(per(eng, 'heapUsed') / KB),
    gatewayRssMb: round2(gw.after.rss / KB / KB),
    engineRssMb: round2(eng.after.rss / KB / KB),
  });
}
