/**
 * Scenario `push-jetstream`: the `push` workload with session events stored in
 * NATS JetStream (a private nats-server -js) against the in-process log, in
 * the same run; then failover time of a primary/backup pair (kill -9 of the
 * primary's process to the first push delivered on the backup).
 *
 *   npm run bench -- push-jetstream [--seconds 3]
 *
 * Rows (producer: BatchPushToClients over gRPC from this process, 4 in flight;
 * clients: the SDK, ACK every 32 pushes or 50 ms): 1 session, 1000 sessions.
 * The rate counts pushes acknowledged by clients (gateway counters). Also
 * printed per row: pushes stored and delivered per second (ahead of the acked
 * rate when client ACKs fall behind), JetStream messages per acked push (events
 * stream seq delta), CPU of gateway / nats-server / this process, and the
 * machine's UDP receive-buffer drops (/proc/net/snmp; lost client ACKs).
 */
import type { GateClient } from '../src/client/gate-client.js';
import { GateClient as Client } from '../src/client/gate-client.js';
import { PushClient } from '../src/client/push-client.js';
import type { ConfigPatch } from '../test/helpers/gateway.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { BenchChild } from './lib/child.js';
import type { GatewayReady } from './lib/gateway-child.js';
import { procCpuSeconds, udpRcvbufErrors } from './lib/proc-stats.js';
import { emitResult, progress, type RunOptions, table } from './lib/report.js';
import {
  benchPatch,
  closeSessions,
  connectSessions,
  type GatewayStats,
  round2,
  type Stack,
  sleep,
  startStack,
  startUpstreams,
} from './lib/stack.js';

const NOTIFY = { msgType: 'bench', title: 'push', content: 'x'.repeat(64) };
const INFLIGHT = 4;
const MAX_QUEUE = 20_000;
const GATEWAY_CHILD = new URL('./lib/gateway-child.ts', import.meta.url);

interface Row {
  log: string;
  row: string;
  rate: number;
  /** Pushes stored (seq handed out) per second: ahead of `rate` when clients fall behind. */
  pushedPerSec: number;
  /** Pushes the clients received per second. */
  deliveredPerSec: number;
  /** UDP datagrams dropped by the kernel (receive buffer full), whole machine. */
  udpDropsPerSec: number;
  /** JetStream messages stored on the events stream per acknowledged push (0 in-process). */
  msgsPerPush: number;
  /** CPU of the gateway, the nats-server and this process (clients + producer), % of one core. */
  cpu: { gateway: number; nats: number; bench: number };
}

/** What the JetStream rows also sample: the events stream's last seq and the server's CPU. */
interface NatsProbe {
  lastSeq(): Promise<number>;
  pid: number;
}

async function measure(
  stack: Stack,
  clients: GateClient[],
  targets: Array<{ targetType: string; targetId: string }>,
  seconds: number,
  probe?: NatsProbe,
): Promise<Omit<Row, 'log' | 'row'>> {
  const producer = new PushClient(stack.grpcTarget, 60_000);
  let delivered = 0;
  const offs = clients.map((c) =>
    c.onDelivered(() => {
      delivered++;
      void c.nextNotify();
    }),
  );
  let stopping = false;
  const loops = Array.from({ length: INFLIGHT }, async () => {
    while (!stopping) {
      try {
        await producer.batch({ targets, ...NOTIFY });
      } catch (e) {
        if (!stopping) throw e;
      }
    }
  });
  await sleep(1000);
  const g0 = await stack.gateway.stats<GatewayStats>();
  const s0 = probe ? await probe.lastSeq() : 0;
  const n0 = probe ? procCpuSeconds(probe.pid) : 0;
  const b0 = process.cpuUsage();
  const d0 = delivered;
  const u0 = udpRcvbufErrors();
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const g1 = await stack.gateway.stats<GatewayStats>();
  const s1 = probe ? await probe.lastSeq() : 0;
  const n1 = probe ? procCpuSeconds(probe.pid) : 0;
  const b1 = process.cpuUsage(b0);
  const d1 = delivered;
  const u1 = udpRcvbufErrors();
  const elapsed = (performance.now() - t0) / 1000;
  stopping = true;
  await Promise.all(loops);
  for (let i = 0; i < 100 && (await stack.gateway.stats<GatewayStats>()).pending > 0; i++) await sleep(50);
  for (const off of offs) off();
  producer.close();
  const acked = g1.acked - g0.acked;
  const pct = (s: number) => Math.round((100 * s) / elapsed);
  return {
    rate: acked / elapsed,
    pushedPerSec: (g1.pushed - g0.pushed) / elapsed,
    deliveredPerSec: (d1 - d0) / elapsed,
    udpDropsPerSec: Math.round((u1 - u0) / elapsed),
    msgsPerPush: acked > 0 ? Number(((s1 - s0) / acked).toPrecision(3)) : 0,
    cpu: {
      gateway: pct((g1.cpuUs - g0.cpuUs) / 1e6),
      nats: pct(n1 - n0),
      bench: pct((b1.user + b1.system) / 1e6),
    },
  };
}

async function pushRows(
  log: string,
  patch: ConfigPatch,
  opts: RunOptions,
  seconds: number,
  probe?: NatsProbe,
): Promise<Row[]> {
  const stack = await startStack(
    opts,
    `push-${log}`,
    benchPatch({ ...patch, server: { maxQueue: MAX_QUEUE, ackTimeoutMs: 120_000 } }),
  );
  const clients: GateClient[] = [];
  const out: Row[] = [];
  const report = (r: Row) =>
    progress(
      `  ${r.rate.toFixed(0)} pushes/s acked (${r.pushedPerSec.toFixed(0)} stored, ${r.deliveredPerSec.toFixed(0)} delivered), ` +
        `${r.msgsPerPush} JetStream msgs/push, CPU % gateway ${r.cpu.gateway} nats ${r.cpu.nats} bench ${r.cpu.bench}, UDP drops/s ${r.udpDropsPerSec}`,
    );
  try {
    clients.push(...(await connectSessions(stack, 1, `js1-${log}`)));
    progress(`${log}: 1 session`);
    const same = Array.from({ length: 200 }, () => ({ targetType: 'openid', targetId: `js1-${log}-0` }));
    out.push({ log, row: '1 session (batch 200)', ...(await measure(stack, clients, same, seconds, probe)) });
    report(out[0]!);
    clients.push(...(await connectSessions(stack, 999, `js1k-${log}`)));
    const all = clients.map((_, i) => ({
      targetType: 'openid',
      targetId: i === 0 ? `js1-${log}-0` : `js1k-${log}-${i - 1}`,
    }));
    progress(`${log}: 1000 sessions`);
    out.push({
      log,
      row: '1000 sessions (batch 1000)',
      ...(await measure(stack, clients, all, seconds, probe)),
    });
    report(out[1]!);
  } finally {
    await closeSessions(clients);
    await stack.stop();
  }
  return out;
}

/** Kill -9 of a primary gateway process while pushes flow: time to the first push delivered on the backup. */
async function failover(
  natsUrl: string,
): Promise<{ killToFirstDeliveryMs: number; killToServingMs: number }> {
  const { makeTestCert } = await import('../test/helpers/certs.js');
  const cert = await makeTestCert();
  const ups = await startUpstreams();
  const start = (serverId: string, mode: 'primary' | 'backup') =>
    BenchChild.start<GatewayReady>(GATEWAY_CHILD, serverId, {
      role: 'gateway',
      upstreams: ups.ready.addresses,
      patch: benchPatch({
        nats: { url: natsUrl, stream: 'GATESVR_FO', subjectPrefix: 'gatesvr_fo' },
        backup: {
          enabled: true,
          mode,
          serverId,
          heartbeat: { intervalMs: 2_000, timeoutMs: 6_000, peerAddr: '' },
        },
      }),
      cert: { certFile: cert.certFile, keyFile: cert.keyFile },
    });
  const primary = await start('gate-001', 'primary');
  const backup = await start('gate-002', 'backup');
  const client = await Client.connect({
    host: '127.0.0.1',
    port: primary.ready.quicPort,
    addresses: [{ host: '127.0.0.1', port: backup.ready.quicPort }],
    openid: 'fo-user',
    caPem: cert.certPem,
    serverName: 'localhost',
    heartbeat: false,
    autoResume: true,
    resumeDelayMs: 50,
    connectTimeoutMs: 1_000,
    idleTimeoutMs: 1_000,
  });
  let lastDelivery = 0;
  client.onDelivered(() => {
    lastDelivery = Date.now();
    void client.nextNotify();
  });
  const { connect } = await import('nats');
  const nc = await connect({ servers: natsUrl });
  const { UnicastPushRequest } = await import('../src/protocol/messages.js');
  const js = nc.jetstream();
  let stop = false;
  const producer = (async () => {
    for (let k = 0; !stop; k++) {
      await js
        .publish('gatesvr_fo.push.openid.fo-user', UnicastPushRequest.encode({ content: String(k) }))
        .catch(() => {});
      await sleep(5);
    }
  })();
  await sleep(1500);
  const killedAt = Date.now();
  process.kill(primary.child.pid!, 'SIGKILL');
  // The backup answers /health 200 once it serves: poll its gateway stats for sessions instead.
  let servingAt = 0;
  while (Date.now() - killedAt < 30_000) {
    const s = await backup.child.stats<GatewayStats>();
    if (!servingAt && s.sessions > 0) servingAt = Date.now();
    if (lastDelivery > killedAt) break;
    await sleep(20);
  }
  const result = { killToFirstDeliveryMs: lastDelivery - killedAt, killToServingMs: servingAt - killedAt };
  stop = true;
  await producer;
  client.close();
  await nc.close();
  await backup.child.stop();
  await primary.child.stop().catch(() => {});
  await ups.child.stop();
  return result;
}

export async function run(opts: RunOptions = {}): Promise<void> {
  const seconds = opts.seconds ?? 3;
  const nats = await startNatsServer();
  const { connect } = await import('nats');
  const nc = await connect({ servers: nats.url });
  try {
    const mem = await pushRows('in-process', {}, opts, seconds);
    const jsm = await nc.jetstreamManager();
    const probe: NatsProbe = {
      pid: nats.pid,
      lastSeq: async () => (await jsm.streams.info('GATESVR')).state.last_seq,
    };
    const jet = await pushRows(
      'jetstream',
      { nats: { url: nats.url, stream: 'GATESVR', subjectPrefix: 'gatesvr' } },
      opts,
      seconds,
      probe,
    );
    progress('failover: kill -9 of the primary (heartbeat 2 s / timeout 6 s)');
    const fo = await failover(nats.url);
    progress(`  first delivery on the backup ${fo.killToFirstDeliveryMs} ms after the kill`);
    table(
      ['row', 'in-process acked/s', 'jetstream acked/s', 'ratio'],
      mem.map((m, i) => [m.row, m.rate, jet[i]!.rate, (jet[i]!.rate / m.rate).toFixed(3)]),
    );
    const geo = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
    emitResult({
      scenario: 'push-jetstream',
      value: round2(geo(jet.map((r) => r.rate))),
      baseline: round2(geo(mem.map((r) => r.rate))),
      unit: 'NOTIFY/s acked with JetStream (geomean of 2 rows; baseline: in-process log, same run)',
      goal: 0.5,
      rows: mem.map((m, i) => ({
        row: m.row,
        inProcessPerSec: round2(m.rate),
        jetstreamPerSec: round2(jet[i]!.rate),
        ratio: round2(jet[i]!.rate / m.rate),
        jetstreamStoredPerSec: round2(jet[i]!.pushedPerSec),
        jetstreamMsgsPerPush: jet[i]!.msgsPerPush,
        cpuPercent: { inProcess: m.cpu, jetstream: jet[i]!.cpu },
      })),
      failover: fo,
    });
  } finally {
    await nc.close();
    await nats.stop();
  }
}
