/**
 * Scenario `resume`: a session with 1,000 unacknowledged pushes reconnects; the
 * time from START sent to the last resent push received, repeated, p50/p99.
 * Baseline, interleaved in the same run: the same START with nothing pending
 * (time to START_RESP). The QUIC handshake before START is reported apart.
 */

import { PushClient } from '../src/client/push-client.js';
import { PushType } from '../src/protocol/codes.js';
import { RawSession } from './lib/raw-session.js';
import { emitResult, progress, type RunOptions, table } from './lib/report.js';
import { benchPatch, percentile, round2, sleep, sortedCopy, startStack } from './lib/stack.js';

const PENDING = 1000;
const PER_RPC = 200;
const OPENID = 'resume-bench';

export async function run(opts: RunOptions = {}): Promise<void> {
  const rounds = Math.max(5, Math.round(((opts.seconds ?? 3) * 30) / 3));
  const stack = await startStack(
    opts,
    'resume',
    benchPatch({ server: { maxQueue: 5000, ackTimeoutMs: 120_000, resumeWindowMs: 120_000 } }),
  );
  const producer = new PushClient(stack.grpcTarget);
  const full: number[] = [];
  const startResp: number[] = [];
  const empty: number[] = [];
  const handshake: number[] = [];
  let lastSeq = 0;

  /** Reconnect, send START, resolve when START_RESP and seq `until` arrived (times from START). */
  const resumeOnce = async (until: number) => {
    const h0 = performance.now();
    const s = await RawSession.connect(stack.quicPort, stack.cert.certPem, OPENID);
    const h1 = performance.now();
    let tResp = -1;
    const done = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`resume: seq ${until} not received`)), 10_000);
      s.onPush = (p) => {
        if (p.type === PushType.START_RESP) {
          tResp = performance.now();
          if (until <= lastSeq) {
            clearTimeout(timer);
            resolve(tResp);
          }
        } else if (p.seqId > 0 && p.seqId >= until) {
          clearTimeout(timer);
          resolve(performance.now());
        }
      };
    });
    const t0 = performance.now();
    s.start(lastSeq);
    const t1 = await done;
    return { s, handshakeMs: h1 - h0, startRespMs: tResp - t0, lastMs: t1 - t0 };
  };

  try {
    // First START: a brand-new session.
    let sess = (await resumeOnce(0)).s;
    progress(`${rounds} rounds of: disconnect, ${PENDING} pushes queued, resume (plus one empty resume)`);
    for (let round = 0; round < rounds; round++) {
      // Baseline: disconnect and resume with nothing pending.
      sess.close();
      await sleep(20);
      let r = await resumeOnce(lastSeq);
      empty.push(r.lastMs);
      sess = r.s;

      // Measured: disconnect, queue PENDING pushes, resume.
      sess.close();
      await sleep(20);
      const rpcs: Promise<unknown>[] = [];
      for (let i = 0; i < PENDING / PER_RPC; i++) {
        rpcs.push(
          producer.batch({
            targets: Array.from({ length: PER_RPC }, () => ({ targetType: 'openid', targetId: OPENID })),
            msgType: 'bench',
            title: 'resume',
            content: 'x'.repeat(64),
          }),
        );
      }
      const res = (await Promise.all(rpcs)) as Array<{ successCount: number }>;
      const accepted = res.reduce((a, b) => a + b.successCount, 0);
      if (accepted !== PENDING) throw new Error(`only ${accepted} of ${PENDING} pushes accepted`);
      const target = lastSeq + PENDING;
      r = await resumeOnce(target);
      full.push(r.lastMs);
      startResp.push(r.startRespMs);
      handshake.push(r.handshakeMs);
      lastSeq = target;
      sess = r.s;
      sess.ack(lastSeq);
      if ((round + 1) % 10 === 0) progress(`  ${round + 1}/${rounds}`);
    }
    sess.close();
  } finally {
    producer.close();
    await stack.stop();
  }

  const f = sortedCopy(full);
  const e = sortedCopy(empty);
  const sr = sortedCopy(startResp);
  const hs = sortedCopy(handshake);
  const p = (a: Float64Array, q: number) => percentile(a, q);
  table(
    ['measure', 'rounds', 'p50 ms', 'p99 ms', 'max ms'],
    [
      [`START -> last of ${PENDING} resent`, String(f.length), p(f, 50), p(f, 99), f[f.length - 1]],
      ['START -> START_RESP (1000 pending)', String(sr.length), p(sr, 50), p(sr, 99), sr[sr.length - 1]],
      ['START -> START_RESP (0 pending)', String(e.length), p(e, 50), p(e, 99), e[e.length - 1]],
      ['QUIC handshake before START', String(hs.length), p(hs, 50), p(hs, 99), hs[hs.length - 1]],
    ],
  );
  const p99 = p(f, 99);
  progress(`goal p99 < 50 ms: ${p99 < 50 ? 'met' : `missed by ${(p99 - 50).toFixed(1)} ms`}`);
  emitResult({
    scenario: 'resume',
    value: round2(p99),
    baseline: round2(p(e, 99)),
    unit: `ms p99, START -> last of ${PENDING} resent pushes (baseline: START -> START_RESP, 0 pending)`,
    goalP99Ms: 50,
    rounds: f.length,
    p50Ms: round2(p(f, 50)),
    p99Ms: round2(p99),
    emptyP50Ms: round2(p(e, 50)),
    startRespP99Ms: round2(p(sr, 99)),
    handshakeP50Ms: round2(p(hs, 50)),
  });
}
