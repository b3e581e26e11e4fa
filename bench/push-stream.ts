/**
 * Scenario `push-stream`: the producer path to one subscriber (SDK client, auto ACK),
 * 256-byte NOTIFY content, `--count` pushes per row (default 50,000), in one run:
 *
 *   in-process log:  PushToClient with `--inflight` unary calls in flight (default 200)
 *                    PushStream with window `--window` (default 256)
 *   NATS (JetStream event log, a private nats-server -js; skipped with --no-nats 1):
 *                    PushStream, the same window
 *                    core NATS publish to the push stream's subject (no producer ack)
 *                    JetStream publish, `--window` publish acks pipelined
 *
 * Rate = pushes delivered to the subscriber / seconds from the first push issued to the
 * last delivered; every push must be delivered once (`lost`, `dup`) and acknowledged
 * (`drained`: the gateway's pending count back to 0). `out of order` counts deliveries
 * whose producer index is below one delivered before it (producer order = the order
 * the producer issued them). The load average is printed with the table (shared machine).
 *
 *   npm run bench -- push-stream [--count 50000] [--inflight 200] [--window 256] [--no-nats 1]
 */
import { loadavg } from 'node:os';
import { createInbox, headers, type NatsConnection, connect as natsConnect } from 'nats';
import type { GateClient } from '../src/client/gate-client.js';
import { PushClient } from '../src/client/push-client.js';
import { UnicastPushRequest, UnicastPushResponse } from '../src/protocol/messages.js';
import { REPLY_HEADER } from '../src/transport/nats/push-consumer.js';
import { startNatsServer } from '../test/helpers/nats-server.js';
import { emitResult, progress, type RunOptions, table } from './lib/report.js';
import {
  benchPatch,
  closeSessions,
  connectSessions,
  cpuNow,
  type GatewayStats,
  round2,
  type Stack,
  sleep,
  startStack,
} from './lib/stack.js';

export const usage =
  '--count N (pushes per row, 50000)  --inflight N (unary calls in flight, 200)  ' +
  '--window W (stream window and JetStream acks in flight, 256)  --no-nats 1 (skip the NATS rows)  ' +
  '--stream-only 1 (no unary row: for --cpu-prof)';

const PAYLOAD_BYTES = 256;
// Large enough that no row is refused QUEUE_FULL: the NATS producers have no window on the
// session (a publish ack means stored in the push stream, not accepted by the session).
const MAX_QUEUE = 200_000;
const MAX_QUEUE_BYTES = 512 * 1_048_576;
const WARMUP = 2_000;

/** Content of the k-th push: its producer index, padded to 256 bytes. */
const contentOf = (k: number) => String(k).padEnd(PAYLOAD_BYTES, '.');

interface Row {
  log: string;
  row: string;
  rate: number;
  seconds: number;
  outOfOrder: number;
  lost: number;
  dup: number;
  refused: number;
  drained: boolean;
  /** CPU per push, µs: the gateway, and this process (producer + subscriber). */
  gatewayUs: number;
  benchUs: number;
  load: string;
}

/** Issues pushes 0..count-1 (in the order it calls `send`); resolves with how many were refused. */
type Producer = (count: number, offset: number) => Promise<number>;

/** A subscriber that records producer indexes of what it receives, from `offset` on. */
function subscriber(client: GateClient) {
  let offset = 0;
  let seen = new Uint8Array(0);
  let count = 0;
  let maxSeen = -1;
  let outOfOrder = 0;
  let dup = 0;
  let lastAt = 0;
  let onCount: (() => void) | null = null;
  let want = 0;
  client.onDelivered((d) => {
    if (d.kind !== 'notify') return;
    void client.nextNotify(); // the SDK buffers notifies for nextNotify(): take it so nothing piles up
    const k = Number.parseInt(d.notify.content, 10) - offset;
    if (!(k >= 0 && k < seen.length)) return; // warm-up stragglers
    if (seen[k]) dup++;
    else {
      seen[k] = 1;
      count++;
    }
    if (k < maxSeen) outOfOrder++;
    else maxSeen = k;
    lastAt = performance.now();
    if (count >= want) onCount?.();
  });
  return {
    reset(from: number, n: number) {
      offset = from;
      seen = new Uint8Array(n);
      count = 0;
      maxSeen = -1;
      outOfOrder = 0;
      dup = 0;
      want = n;
    },
    /** Resolves when everything arrived or nothing arrived for `idleMs`. */
    async wait(idleMs: number): Promise<void> {
      if (count >= want) return;
      await new Promise<void>((resolve) => {
        onCount = resolve;
        const tick = () => {
          if (count >= want || performance.now() - lastAt > idleMs) resolve();
          else setTimeout(tick, 100).unref();
        };
        tick();
      });
      onCount = null;
    },
    get result() {
      return { count, outOfOrder, dup, lastAt };
    },
  };
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

async function measureRow(
  stack: Stack,
  sub: ReturnType<typeof subscriber>,
  log: string,
  row: string,
  producer: Producer,
  count: number,
  base: { next: number },
): Promise<Row> {
  // Warm-up with the same producer (JIT, connections, stream setup), then the measured pushes.
  sub.reset(base.next, WARMUP);
  await producer(WARMUP, base.next);
  await sub.wait(10_000);
  base.next += WARMUP;
  progress(`${log}: ${row}`);
  sub.reset(base.next, count);
  const g0 = await stack.gateway.stats<GatewayStats>();
  const c0 = cpuNow();
  const t0 = performance.now();
  const refused = await producer(count, base.next);
  await sub.wait(10_000);
  const r = sub.result;
  const c1 = cpuNow();
  const g1 = await stack.gateway.stats<GatewayStats>();
  base.next += count;
  let drained = false;
  for (let i = 0; i < 200; i++) {
    if ((await stack.gateway.stats<GatewayStats>()).pending === 0) {
      drained = true;
      break;
    }
    await sleep(50);
  }
  const seconds = (r.lastAt - t0) / 1000;
  const out: Row = {
    log,
    row,
    rate: r.count / seconds,
    seconds,
    outOfOrder: r.outOfOrder,
    lost: count - r.count,
    dup: r.dup,
    refused,
    drained,
    gatewayUs: (g1.cpuUs - g0.cpuUs) / Math.max(1, r.count),
    benchUs: (c1 - c0) / Math.max(1, r.count),
    load: load(),
  };
  progress(
    `  ${out.rate.toFixed(0)} pushes/s, out of order ${out.outOfOrder}, lost ${out.lost}, dup ${out.dup}, ` +
      `refused ${refused}, load ${out.load}`,
  );
  return out;
}

function unaryProducer(p: PushClient, openid: string, inflight: number): Producer {
  return async (count, offset) => {
    let next = 0;
    let refused = 0;
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (next < count) {
          const k = next++;
          const r = await p.push({ targetType: 'openid', targetId: openid, content: contentOf(offset + k) });
          if (!r.success) refused++;
        }
      }),
    );
    return refused;
  };
}

function streamProducer(p: PushClient, openid: string, window: number): Producer {
  return async (count, offset) => {
    const stream = p.stream({ window });
    const answers = Array.from({ length: count }, (_, k) =>
      stream.push({ targetType: 'openid', targetId: openid, content: contentOf(offset + k) }),
    );
    let refused = 0;
    for (const a of await Promise.all(answers)) if (!a.success) refused++;
    await stream.close();
    return refused;
  };
}

/**
 * The gateway's answers to NATS pushes (Gatesvr-Reply header): the producer learns of
 * refusals only this way. `settled()` resolves with the refusals once a round is answered.
 */
function natsAnswers(nc: NatsConnection) {
  const subject = createInbox();
  let answered = 0;
  let refused = 0;
  let want = Number.POSITIVE_INFINITY;
  let done: (() => void) | null = null;
  nc.subscribe(subject, {
    callback: (_err, m) => {
      answered++;
      if (!UnicastPushResponse.decode(m.data).success) refused++;
      if (answered >= want) done?.();
    },
  });
  const h = headers();
  h.set(REPLY_HEADER, subject);
  return {
    headers: h,
    /** Starts a round of `n` pushes. */
    reset(n: number) {
      answered = 0;
      refused = 0;
      want = n;
    },
    settled(): Promise<number> {
      if (answered >= want) return Promise.resolve(refused);
      return new Promise((resolve) => {
        done = () => resolve(refused);
      });
    },
  };
}

function natsCoreProducer(nc: NatsConnection, subject: string): Producer {
  const answers = natsAnswers(nc);
  return async (count, offset) => {
    answers.reset(count);
    for (let k = 0; k < count; k++) {
      const data = UnicastPushRequest.encode({ content: contentOf(offset + k) });
      nc.publish(subject, data, { headers: answers.headers });
    }
    await nc.flush();
    return answers.settled();
  };
}

function jetStreamProducer(nc: NatsConnection, subject: string, window: number): Producer {
  const js = nc.jetstream();
  const answers = natsAnswers(nc);
  return async (count, offset) => {
    answers.reset(count);
    let next = 0;
    // `window` workers, each with one publish ack outstanding: issue order is still k order
    // (a worker takes the next k and publishes before yielding).
    await Promise.all(
      Array.from({ length: window }, async () => {
        while (next < count) {
          const k = next++;
          const data = UnicastPushRequest.encode({ content: contentOf(offset + k) });
          await js.publish(subject, data, { headers: answers.headers });
        }
      }),
    );
    return answers.settled();
  };
}

async function rowsOn(
  log: string,
  patch: Parameters<typeof benchPatch>[0],
  opts: RunOptions,
  openid: string,
  build: (stack: Stack) => Array<[string, Producer]>,
  count: number,
): Promise<Row[]> {
  const stack = await startStack(
    opts,
    `push-stream-${log}`,
    benchPatch({
      ...patch,
      server: { maxQueue: MAX_QUEUE, maxQueueBytes: MAX_QUEUE_BYTES, ackTimeoutMs: 120_000 },
    }),
  );
  const clients: GateClient[] = [];
  const out: Row[] = [];
  try {
    clients.push(...(await connectSessions(stack, 1, openid)));
    const sub = subscriber(clients[0]!);
    const base = { next: 0 };
    for (const [row, producer] of build(stack)) {
      out.push(await measureRow(stack, sub, log, row, producer, count, base));
    }
  } finally {
    await closeSessions(clients);
    await stack.stop();
  }
  return out;
}

export async function run(opts: RunOptions = {}): Promise<void> {
  const a = opts.args ?? {};
  const count = Number(a.count ?? 50_000);
  const inflight = Number(a.inflight ?? 200);
  const window = Number(a.window ?? 256);
  const producers: PushClient[] = [];
  const grpcProducer = (stack: Stack) => {
    const p = new PushClient(stack.grpcTarget, 120_000);
    producers.push(p);
    return p;
  };
  progress(`load average at start: ${load()}`);
  const rows: Row[] = [];
  try {
    // connectSessions names the one session `<prefix>-0`.
    rows.push(
      ...(await rowsOn(
        'in-process',
        {},
        opts,
        'ps',
        (stack) => {
          const p = grpcProducer(stack);
          return [
            ...(a['stream-only'] === undefined
              ? [[`unary, ${inflight} in flight`, unaryProducer(p, 'ps-0', inflight)] as [string, Producer]]
              : []),
            [`PushStream, window ${window}`, streamProducer(p, 'ps-0', window)],
          ];
        },
        count,
      )),
    );
    if (a['no-nats'] === undefined) {
      const nats = await startNatsServer();
      const nc = await natsConnect({ servers: nats.url });
      try {
        const subject = 'gatesvr.push.openid.psn-0';
        rows.push(
          ...(await rowsOn(
            'jetstream',
            { nats: { url: nats.url, stream: 'GATESVR', subjectPrefix: 'gatesvr' } },
            opts,
            'psn',
            (stack) => [
              [`PushStream, window ${window}`, streamProducer(grpcProducer(stack), 'psn-0', window)],
              ['core NATS publish', natsCoreProducer(nc, subject)],
              [`JetStream publish, ${window} acks pipelined`, jetStreamProducer(nc, subject, window)],
            ],
            count,
          )),
        );
      } finally {
        await nc.close();
        await nats.stop();
      }
    }
  } finally {
    for (const p of producers) p.close();
  }

  // --stream-only (for profiles): the first row stands in as the baseline.
  const unary = rows[0]!;
  table(
    [
      'event log',
      'producer',
      'pushes/s',
      'vs unary',
      'out of order',
      'lost',
      'dup',
      'refused',
      'drained',
      'gateway µs/push',
      'bench µs/push',
      'load avg (1/5/15 min)',
    ],
    rows.map((r) => [
      r.log,
      r.row,
      r.rate,
      (r.rate / unary.rate).toFixed(2),
      String(r.outOfOrder),
      String(r.lost),
      String(r.dup),
      String(r.refused),
      String(r.drained),
      r.gatewayUs,
      r.benchUs,
      r.load,
    ]),
  );
  const stream = rows[a['stream-only'] === undefined ? 1 : 0]!;
  emitResult({
    scenario: 'push-stream',
    value: round2(stream.rate),
    baseline: round2(unary.rate),
    unit: `NOTIFY/s delivered to one subscriber, ${PAYLOAD_BYTES}-byte content (PushStream window ${window}; baseline unary, ${inflight} in flight, same run)`,
    count,
    rows: rows.map((r) => ({
      log: r.log,
      producer: r.row,
      perSec: round2(r.rate),
      ratioToUnary: round2(r.rate / unary.rate),
      outOfOrder: r.outOfOrder,
      lost: r.lost,
      dup: r.dup,
      refused: r.refused,
      drained: r.drained,
      gatewayCpuUsPerPush: round2(r.gatewayUs),
      benchCpuUsPerPush: round2(r.benchUs),
      loadAverage: r.load,
    })),
  });
}
