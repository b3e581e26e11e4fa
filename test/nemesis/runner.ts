/**
 * The Jepsen-style nemesis run: a 3-node NATS cluster (JetStream, replicas 3), a
 * primary and a backup gateway process (`gatesvr --config`), SDK clients holding
 * sessions (autoResume, both gateway addresses), producers pushing over gRPC with
 * a `push_id` each. A seeded PRNG picks one fault per round: kill -9 of the
 * serving gateway (restarted, so it comes back as the backup), SIGSTOP/SIGCONT of
 * the serving gateway for longer than `heartbeat.timeout`, kill and restart of a
 * NATS node, cuts of client connections. Then everything is healed, producers
 * finish, clients drain, and the checker judges the histories.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GateClient } from '../../src/client/gate-client.js';
import { PushType } from '../../src/protocol/codes.js';
import { NotifyMessage, type ServerPush, StartResponse } from '../../src/protocol/messages.js';
import { makeSelfSignedCert } from '../helpers/certs.js';
import { forgetDir, removeOnExit } from '../helpers/child-reaper.js';
import { prng } from '../helpers/fuzz.js';
import { type GatewayProcess, spawnGateway } from '../helpers/gateway-process.js';
import { type NatsClusterHandle, startNatsCluster } from '../helpers/nats-cluster.js';
import {
  type CheckResult,
  check,
  type Delivery,
  describeProblems,
  type Frame,
  percentile,
  type SessionHistory,
  unavailableSpans,
} from './checker.js';
import { Producer, PushChannel } from './producer.js';

export type FaultKind = 'kill-gateway' | 'pause-gateway' | 'kill-nats' | 'cut-clients';
export const FAULT_KINDS: FaultKind[] = ['kill-gateway', 'pause-gateway', 'kill-nats', 'cut-clients'];

export interface NemesisOptions {
  rounds: number;
  seed: number;
  sessions?: number;
  producersPerSession?: number;
  /** Ms between two pushes of one producer. */
  pushIntervalMs?: number;
  /** gRPC deadline of a push. */
  deadlineMs?: number;
  heartbeatInterval?: string;
  heartbeatTimeout?: string;
  replicas?: number;
  faults?: FaultKind[];
  /** Quiet time per round before the fault, min/max ms. */
  quietMs?: [number, number];
  /** Give up waiting for recovery after a fault after this long. */
  recoverTimeoutMs?: number;
  /** Start no new round once this much time has passed since the producers started. */
  roundsBudgetMs?: number;
  /** Give up retrying the pushes in progress this long after the producers are told to stop. */
  finishTimeoutMs?: number;
  /** Give up waiting for clients to drain after this long. */
  drainTimeoutMs?: number;
  log?: (line: string) => void;
  /** Write gateway logs, NATS output and the histories here (kept; the caller removes it). */
  artifactsDir?: string;
}

export interface NemesisSummary {
  rounds: number;
  faults: number;
  accepted: number;
  delivered: number;
  lost: number;
  duplicated: number;
  reused_seqs: number;
  unavailable_ms_p50: number;
  unavailable_ms_max: number;
  order_violations: number;
  phantoms: number;
  seq_gaps: number;
  unknown: number;
  sessions_replaced: number;
  attempts: number;
  attempts_unknown: number;
  connection_losses: number;
  seed: number;
}

export interface NemesisResult {
  summary: NemesisSummary;
  check: CheckResult;
  histories: SessionHistory[];
  events: Array<{ t: number; what: string }>;
  /** Failure details: problems, with attempt traces of the push ids involved. */
  report: string[];
  ok: boolean;
}

interface SessionRig {
  openid: string;
  client: GateClient | null;
  sessionId: string;
  deliveries: Delivery[];
  frames: Frame[];
  producers: Producer[];
  newSessions: number;
  closes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 100,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await sleep(stepMs);
  }
  return cond();
}

export async function runNemesis(o: NemesisOptions): Promise<NemesisResult> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const rnd = prng(o.seed);
  const between = (lo: number, hi: number) => Math.round(lo + rnd() * (hi - lo));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const sessions = o.sessions ?? 3;
  const perSession = o.producersPerSession ?? 2;
  const hbTimeoutMs = Number.parseInt(o.heartbeatTimeout ?? '1500', 10) || 1500;
  const faultKinds = o.faults ?? FAULT_KINDS;
  const t0 = Date.now();
  const events: Array<{ t: number; what: string }> = [];
  const note = (what: string) => {
    events.push({ t: Date.now() - t0, what });
    log(`[nemesis +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
  };

  const verbose = process.env.NEMESIS_VERBOSE === '1';
  const dir = mkdtempSync(join(tmpdir(), 'gatesvr-nemesis-'));
  removeOnExit(dir);
  let nats: NatsClusterHandle | null = null;
  const gws: Array<GatewayProcess | null> = [null, null];
  /** Every gateway process started (restarts included), for the artifacts. */
  const allGws: GatewayProcess[] = [];
  const rigs: SessionRig[] = [];
  const channels: PushChannel[] = [];
  let certDir = '';
  let faults = 0;
  let roundsRun = 0;
  let producersStarted = 0;
  let producersStopped = 0;

  try {
    note(`seed ${o.seed}, ${o.rounds} rounds, ${sessions} sessions x ${perSession} producers`);
    const cert = await makeSelfSignedCert();
    certDir = dirname(cert.certFile);
    removeOnExit(certDir);
    nats = await startNatsCluster({ size: 3 });
    note(`NATS cluster up: ${nats.url}`);
    const common = {
      dir,
      cert,
      natsUrl: nats.url,
      heartbeatInterval: o.heartbeatInterval ?? '500ms',
      heartbeatTimeout: o.heartbeatTimeout ?? '1500ms',
      logLevel: 'info',
      extra: { nats: { replicas: o.replicas ?? 3 } },
    };
    gws[0] = await spawnGateway({ ...common, name: 'gate-a', mode: 'primary' });
    allGws.push(gws[0]);
    gws[1] = await spawnGateway({ ...common, name: 'gate-b', mode: 'backup' });
    allGws.push(gws[1]);
    note(
      `gateways up: gate-a quic ${gws[0].quicPort} grpc ${gws[0].grpcPort}, gate-b quic ${gws[1].quicPort} grpc ${gws[1].grpcPort}`,
    );
    const [ga, gb] = [gws[0], gws[1]];
    const healths = () => Promise.all(gws.map((g) => (g ? g.health(800) : Promise.resolve('down'))));
    if (!(await until(async () => (await healths()).includes('healthy'), 20_000))) {
      throw new Error(`no gateway serving: ${(await healths()).join(', ')}`);
    }

    for (const g of [ga, gb])
      channels.push(new PushChannel(`127.0.0.1:${g.grpcPort}`, o.deadlineMs ?? 3_000));

    // Clients: one session each, recorded on the wire and as delivered.
    for (let i = 0; i < sessions; i++) {
      const rig: SessionRig = {
        openid: `nemesis-${o.seed}-${i}`,
        client: null,
        sessionId: '',
        deliveries: [],
        frames: [],
        producers: [],
        newSessions: 0,
        closes: 0,
      };
      const servingFirst = (await ga.health()) === 'healthy' ? [ga, gb] : [gb, ga];
      const client = await GateClient.connect({
        host: '127.0.0.1',
        port: servingFirst[0]!.quicPort,
        addresses: [{ host: '127.0.0.1', port: servingFirst[1]!.quicPort }],
        openid: rig.openid,
        caPem: cert.certPem,
        serverName: 'localhost',
        heartbeat: false,
        autoResume: true,
        resumeDelayMs: 100,
        connectTimeoutMs: 1_000,
        idleTimeoutMs: 2_000,
      });
      rig.client = client;
      rig.sessionId = client.sessionId;
      // Every reliable frame as received (retransmissions included), tagged with the
      // session id of the connection it came on: START_RESP is seen here first, before
      // the SDK's own continuation runs.
      const c = client as unknown as { onPush(p: ServerPush): void };
      const orig = c.onPush.bind(client);
      c.onPush = (p: ServerPush) => {
        if (p.type === PushType.START_RESP && p.seqId === 0) {
          try {
            const r = StartResponse.decode(p.payload);
            if (r.success && r.sessionId !== rig.sessionId) {
              rig.newSessions++;
              note(
                `${rig.openid}: NEW SESSION ${r.sessionId.slice(0, 8)} (resumed=${r.resumed}), was ${rig.sessionId.slice(0, 8)}`,
              );
              rig.sessionId = r.sessionId;
            }
          } catch {
            // not ours to judge
          }
        } else if (p.seqId > 0) {
          let pushId = '';
          if (p.type === PushType.NOTIFY) {
            try {
              pushId = NotifyMessage.decode(p.payload).content;
            } catch {
              pushId = '(undecodable)';
            }
          }
          rig.frames.push({ sessionId: rig.sessionId, seq: p.seqId, pushId });
        }
        orig(p);
      };
      client.onClose((info) => {
        rig.closes++;
        if (verbose)
          note(`${rig.openid}: connection closed (${info.isApp ? 'app' : 'transport'} code ${info.code})`);
      });
      client.onDelivered((d) => {
        rig.deliveries.push({
          sessionId: rig.sessionId,
          seq: d.seq,
          at: Date.now(),
          ...(d.kind === 'notify' ? { pushId: d.notify.content } : {}),
        });
      });
      const a = await client.request('hello', { zone: '1' });
      if (a.code !== 0) throw new Error(`${rig.openid}: login failed ${a.code} ${a.message}`);
      for (let k = 0; k < perSession; k++) {
        rig.producers.push(
          new Producer({
            id: `s${i}p${k}`,
            openid: rig.openid,
            channels,
            intervalMs: o.pushIntervalMs ?? 50,
          }),
        );
      }
      rigs.push(rig);
    }
    const producers = rigs.flatMap((r) => r.producers);
    producersStarted = Date.now();
    for (const p of producers) p.start();
    note(`${rigs.length} clients logged in, ${producers.length} producers pushing`);

    const acceptedCount = () => producers.reduce((n, p) => n + p.acceptedAt.length, 0);
    const allProgressSince = (since: number) =>
      producers.every((p) => p.acceptedAt.length > 0 && p.acceptedAt[p.acceptedAt.length - 1]! > since);
    const serving = async (): Promise<number> => {
      const h = await healths();
      return h.indexOf('healthy');
    };
    const recover = async (what: string) => {
      const since = Date.now();
      const ok = await until(
        async () => allProgressSince(since) && (await healths()).filter((h) => h === 'healthy').length === 1,
        o.recoverTimeoutMs ?? 25_000,
        200,
      );
      note(
        ok
          ? `recovered from ${what} in ${Date.now() - since} ms (accepted so far ${acceptedCount()})`
          : `NOT RECOVERED from ${what} within ${o.recoverTimeoutMs ?? 25_000} ms: health ${(await healths()).join('/')}, accepted ${acceptedCount()}`,
      );
    };

    const bag: FaultKind[] = [];
    for (let round = 1; round <= o.rounds; round++) {
      const [qlo, qhi] = o.quietMs ?? [1_000, 2_500];
      await sleep(between(qlo, qhi));
      if (o.roundsBudgetMs !== undefined && Date.now() - producersStarted > o.roundsBudgetMs) {
        note(`round budget of ${o.roundsBudgetMs} ms spent: no more rounds after ${round - 1}`);
        break;
      }
      // A seeded shuffle per block of rounds: every fault kind once per block, so short runs cover them all.
      if (bag.length === 0) {
        bag.push(...faultKinds);
        for (let i = bag.length - 1; i > 0; i--) {
          const j = Math.floor(rnd() * (i + 1));
          [bag[i], bag[j]] = [bag[j]!, bag[i]!];
        }
      }
      const kind = bag.shift()!;
      roundsRun = round;
      faults++;
      switch (kind) {
        case 'kill-gateway': {
          let idx = await serving();
          if (idx < 0) idx = gws.findIndex((g) => g?.servingPerLog());
          if (idx < 0) idx = 0;
          const g = gws[idx]!;
          note(`round ${round}: kill -9 ${g.name} (serving)`);
          await g.kill('SIGKILL');
          const other = gws[1 - idx]!;
          const waitMs = Math.min(15_000, o.recoverTimeoutMs ?? 25_000);
          const took = await until(async () => (await other.health()) === 'healthy', waitMs, 100);
          note(`round ${round}: ${other.name} ${took ? 'serving' : `NOT serving after ${waitMs} ms`}`);
          gws[idx] = await g.restart();
          allGws.push(gws[idx]!);
          note(
            `round ${round}: ${g.name} restarted (${gws[idx]!.servingPerLog() ? 'SERVING' : 'standing by'})`,
          );
          break;
        }
        case 'pause-gateway': {
          let idx = await serving();
          if (idx < 0) idx = 0;
          const g = gws[idx]!;
          const ms = hbTimeoutMs + between(200, 2_500);
          note(`round ${round}: SIGSTOP ${g.name} (serving) for ${ms} ms`);
          g.pause();
          await sleep(ms);
          g.resume();
          note(`round ${round}: SIGCONT ${g.name}`);
          break;
        }
        case 'kill-nats': {
          const n = pick(nats.nodes);
          const ms = between(1_000, 4_000);
          note(`round ${round}: kill -9 NATS ${n.name} for ${ms} ms`);
          await n.kill();
          await sleep(ms);
          await n.restart();
          note(`round ${round}: NATS ${n.name} restarted`);
          break;
        }
        case 'cut-clients': {
          const cut = rigs.filter(() => rnd() < 0.6);
          if (cut.length === 0) cut.push(pick(rigs));
          note(`round ${round}: cut the connections of ${cut.map((r) => r.openid).join(', ')}`);
          for (const r of cut) r.client?.connection?.close(0, 'nemesis cut');
          break;
        }
      }
      await recover(`round ${round} ${kind}`);
    }

    // Heal: everything running, one gateway serving, JetStream answering.
    note('heal');
    for (const g of gws) g?.resume();
    for (const n of nats.nodes) {
      n.resume();
      if (!n.running) await n.restart();
    }
    for (let i = 0; i < gws.length; i++) {
      if (!gws[i]!.running) {
        gws[i] = await gws[i]!.restart();
        allGws.push(gws[i]!);
      }
    }
    await nats.waitJetStream(30_000).catch((err) => note(`JetStream not ready after heal: ${err}`));
    await recover('heal');

    note('stopping producers (each finishes its push in progress)');
    await Promise.all(producers.map((p) => p.stop(o.finishTimeoutMs ?? 20_000)));
    producersStopped = Date.now();

    // Drain: every accepted push delivered, or no delivery progress for a while.
    const acceptedIds = new Set(
      producers.flatMap((p) => p.ops.filter((x) => x.outcome === 'accepted').map((x) => x.pushId)),
    );
    const deliveredIds = () => {
      const s = new Set<string>();
      for (const r of rigs) for (const d of r.deliveries) if (d.pushId) s.add(d.pushId);
      return s;
    };
    const drainStart = Date.now();
    let lastCount = -1;
    let lastChange = Date.now();
    for (;;) {
      const got = deliveredIds();
      let missing = 0;
      for (const id of acceptedIds) if (!got.has(id)) missing++;
      const count = rigs.reduce((n, r) => n + r.deliveries.length, 0);
      if (count !== lastCount) {
        lastCount = count;
        lastChange = Date.now();
      }
      if (missing === 0 && Date.now() - lastChange > 1_000) break;
      if (Date.now() - lastChange > 8_000 || Date.now() - drainStart > (o.drainTimeoutMs ?? 30_000)) {
        note(`drain ended with ${missing} accepted pushes undelivered`);
        break;
      }
      await sleep(200);
    }
    note('drained');

    const histories: SessionHistory[] = rigs.map((r) => ({
      session: r.openid,
      ops: r.producers.flatMap((p) => p.ops),
      deliveries: r.deliveries,
      frames: r.frames,
    }));
    const result = check(histories);
    const spans = unavailableSpans(
      producers.flatMap((p) => p.acceptedAt),
      producersStarted,
      producersStopped,
      250,
    );
    const windows = spans.map((w) => w.ms);
    for (const w of spans) {
      note(`unavailable: no push accepted from +${((w.start - t0) / 1000).toFixed(1)}s for ${w.ms} ms`);
    }
    const summary: NemesisSummary = {
      rounds: roundsRun,
      faults,
      accepted: result.accepted,
      delivered: result.delivered,
      lost: result.lost,
      duplicated: result.duplicated,
      reused_seqs: result.reused_seqs,
      unavailable_ms_p50: percentile(windows, 50),
      unavailable_ms_max: windows.length ? Math.max(...windows) : 0,
      order_violations: result.order_violations,
      phantoms: result.phantoms,
      seq_gaps: result.seq_gaps,
      unknown: result.unknown,
      sessions_replaced: result.sessions_replaced,
      attempts: producers.reduce((n, p) => n + p.attempts, 0),
      attempts_unknown: producers.reduce((n, p) => n + p.unknownAttempts, 0),
      connection_losses: rigs.reduce((n, r) => n + r.closes, 0),
      seed: o.seed,
    };

    // Failure report: each problem, then the attempt trace and deliveries of the push ids named.
    const report = describeProblems(result, 12);
    const traces = new Map<string, string>();
    for (const p of producers) {
      for (const [id, tr] of p.traces) {
        const fmt = (a: (typeof tr)[number]) =>
          `+${((a.at - t0) / 1000).toFixed(2)}s ${a.target} ${a.ms}ms -> ${a.result.slice(0, 120)}`;
        const shown =
          tr.length <= 6
            ? tr.map(fmt)
            : [...tr.slice(0, 3).map(fmt), `… ${tr.length - 5} more …`, ...tr.slice(-2).map(fmt)];
        traces.set(id, shown.join(' | '));
      }
    }
    const named = new Set<string>();
    for (const pr of result.problems) {
      for (const x of pr.lost.slice(0, 5)) named.add(x.pushId);
      for (const x of pr.duplicated.slice(0, 5)) named.add(x.pushId);
      for (const x of pr.reusedSeqs.slice(0, 3)) for (const id of x.pushIds) if (id) named.add(id);
      for (const x of pr.orderViolations.slice(0, 3)) named.add(x.pushId);
      for (const x of pr.phantoms.slice(0, 3)) named.add(x.pushId);
    }
    for (const id of named) {
      const rig = rigs.find((r) => r.producers.some((p) => p.traces.has(id)));
      const seen = rig?.deliveries
        .filter((d) => d.pushId === id)
        .map(
          (d) => `seq ${d.seq} of ${d.sessionId.slice(0, 8)} at +${(((d.at ?? t0) - t0) / 1000).toFixed(2)}s`,
        );
      report.push(
        `  ${id}: attempts ${traces.get(id) ?? '?'}; delivered: ${seen?.length ? seen.join(', ') : 'never'}`,
      );
    }
    if (report.length > 0) {
      // Who served when, per the gateways' own logs (overlaps mean two gateways served at once).
      report.push('  serving lease per gateway log:');
      for (const g of allGws) {
        const moves = g.lines
          .filter((l) =>
            /^(serving|standing by|serving lease (taken|lost).*|serving lease not renewed.*|HA started)$/.test(
              l.msg,
            ),
          )
          .map(
            (l) =>
              `+${((l.at - t0) / 1000).toFixed(2)}s ${l.msg}${l.msg === 'HA started' ? ` serving=${l.obj.serving}` : ''}`,
          );
        report.push(`    ${g.name} pid ${g.pid}: ${moves.join(', ') || '(none)'}`);
      }
      report.push('  fault timeline:');
      for (const e of events) report.push(`    +${(e.t / 1000).toFixed(1)}s ${e.what}`);
    }
    if (o.artifactsDir) {
      mkdirSync(o.artifactsDir, { recursive: true });
      allGws.forEach((g, i) => {
        writeFileSync(
          join(o.artifactsDir!, `${String(i).padStart(2, '0')}-${g.name}.log`),
          `${g.lines.map((l) => `${new Date(l.at).toISOString()} ${JSON.stringify(l.obj)}`).join('\n')}\n${g.stderr()}`,
        );
      });
      for (const n of nats.nodes) writeFileSync(join(o.artifactsDir, `nats-${n.name}.log`), n.output());
      writeFileSync(
        join(o.artifactsDir, 'histories.json'),
        JSON.stringify({ summary, events, histories }, null, 1),
      );
      writeFileSync(join(o.artifactsDir, 'report.txt'), `${report.join('\n')}\n`);
      log(`[nemesis] artifacts in ${o.artifactsDir}`);
    }
    const ok = result.ok && summary.lost === 0 && summary.duplicated === 0 && summary.reused_seqs === 0;
    return { summary, check: result, histories, events, report, ok };
  } finally {
    for (const r of rigs) for (const p of r.producers) p.abort();
    for (const r of rigs) {
      try {
        r.client?.close();
      } catch {
        // closing anyway
      }
    }
    for (const ch of channels) ch.close();
    await Promise.all(gws.map((g) => g?.kill('SIGKILL').catch(() => {})));
    await nats?.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
    forgetDir(dir);
    if (certDir) {
      rmSync(certDir, { recursive: true, force: true });
      forgetDir(certDir);
    }
  }
}
