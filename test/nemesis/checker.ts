/**
 * The nemesis checker (pure): given, per session (openid), what producers did and
 * what the client saw, it finds lost, duplicated and reordered pushes and seqs
 * given twice. No I/O, no clock: the runner records histories, this judges them.
 *
 * Model. A producer pushes one push at a time (producer-local `index` 0, 1, 2 …),
 * each with its own `push_id`, retrying the same `push_id` until it is accepted
 * or the run ends. The op's outcome is `accepted` if any attempt was accepted,
 * else `unknown` if any attempt timed out (or failed without an answer), else
 * `refused` (every attempt was answered "nothing accepted").
 *
 * The client side is recorded twice: `deliveries` are what the SDK handed to the
 * application (each seq once, in order), `frames` are every reliable NOTIFY frame
 * the client received, retransmissions included, tagged with the gateway session
 * id they arrived on. A seq is "reused" when one (session id, seq) carried two
 * different pushes — seen on the wire even if the SDK dropped the second.
 *
 * Rules checked (docs/protocol.md sections 3, 5 and 7):
 * - lost: accepted but never delivered;
 * - duplicated: one push delivered more than once (under two seqs);
 * - reused_seqs: one (session id, seq) carrying two different pushes;
 * - order_violations: op b of a producer delivered before op a of the same
 *   producer although a was accepted before b was sent (a.index < b.index);
 * - phantoms: refused (every attempt answered "nothing accepted") yet delivered;
 * - seq_gaps: delivered seqs of one gateway session that are not 1, 2, 3 … .
 */

export type Outcome = 'accepted' | 'refused' | 'unknown';

export interface ProducerOp {
  producer: string;
  /** Producer-local order: 0, 1, 2 … (one op at a time). */
  index: number;
  pushId: string;
  outcome: Outcome;
  attempts?: number;
  /** Seq the gateway named in its answer, when it did. */
  seq?: number;
}

export interface Delivery {
  /** Gateway session id the client had when this was delivered. */
  sessionId: string;
  seq: number;
  /** Push id from the notify content; undefined for answers and errors. */
  pushId?: string;
  at?: number;
}

export interface Frame {
  sessionId: string;
  seq: number;
  /** Push id of a NOTIFY; another reliable push (answer, error) is '' + kind. */
  pushId: string;
}

export interface SessionHistory {
  /** The openid the producers target. */
  session: string;
  ops: ProducerOp[];
  /** In delivery order. */
  deliveries: Delivery[];
  /** Every reliable frame received (optional). */
  frames?: Frame[];
}

export interface SessionProblems {
  session: string;
  lost: Array<{ pushId: string; producer: string; index: number; seq?: number }>;
  duplicated: Array<{ pushId: string; seqs: number[] }>;
  reusedSeqs: Array<{ sessionId: string; seq: number; pushIds: string[] }>;
  orderViolations: Array<{
    producer: string;
    pushId: string;
    index: number;
    after: string;
    afterIndex: number;
  }>;
  phantoms: Array<{ pushId: string; seqs: number[] }>;
  seqGaps: Array<{ sessionId: string; expected: number; got: number }>;
}

export interface CheckResult {
  accepted: number;
  refused: number;
  unknown: number;
  /** Distinct pushes delivered at least once. */
  delivered: number;
  lost: number;
  duplicated: number;
  reused_seqs: number;
  order_violations: number;
  phantoms: number;
  seq_gaps: number;
  /** Gateway sessions seen per openid beyond the first (a session not resumed). */
  sessions_replaced: number;
  ok: boolean;
  problems: SessionProblems[];
}

export function checkSession(h: SessionHistory): {
  counts: Omit<CheckResult, 'problems' | 'ok'>;
  problems: SessionProblems;
} {
  const p: SessionProblems = {
    session: h.session,
    lost: [],
    duplicated: [],
    reusedSeqs: [],
    orderViolations: [],
    phantoms: [],
    seqGaps: [],
  };
  const opById = new Map<string, ProducerOp>();
  for (const op of h.ops) opById.set(op.pushId, op);

  // Deliveries of each push.
  const seqsOf = new Map<string, number[]>();
  for (const d of h.deliveries) {
    if (d.pushId === undefined) continue;
    const s = seqsOf.get(d.pushId);
    if (s) s.push(d.seq);
    else seqsOf.set(d.pushId, [d.seq]);
  }

  let accepted = 0;
  let refused = 0;
  let unknown = 0;
  for (const op of h.ops) {
    if (op.outcome === 'accepted') accepted++;
    else if (op.outcome === 'refused') refused++;
    else unknown++;
    const seqs = seqsOf.get(op.pushId);
    if (op.outcome === 'accepted' && !seqs) {
      p.lost.push({
        pushId: op.pushId,
        producer: op.producer,
        index: op.index,
        ...(op.seq !== undefined ? { seq: op.seq } : {}),
      });
    }
    if (op.outcome === 'refused' && seqs) p.phantoms.push({ pushId: op.pushId, seqs });
  }
  for (const [pushId, seqs] of seqsOf) if (seqs.length > 1) p.duplicated.push({ pushId, seqs });

  // Order per producer: walking deliveries in order, the first delivery of an
  // accepted op must not come after a later op of its producer.
  const maxDelivered = new Map<string, { index: number; pushId: string }>();
  const seen = new Set<string>();
  for (const d of h.deliveries) {
    if (d.pushId === undefined || seen.has(d.pushId)) continue;
    seen.add(d.pushId);
    const op = opById.get(d.pushId);
    if (!op) continue;
    const max = maxDelivered.get(op.producer);
    if (max && max.index > op.index && op.outcome === 'accepted') {
      p.orderViolations.push({
        producer: op.producer,
        pushId: op.pushId,
        index: op.index,
        after: max.pushId,
        afterIndex: max.index,
      });
    }
    if (!max || op.index > max.index) maxDelivered.set(op.producer, { index: op.index, pushId: op.pushId });
  }

  // Seqs: contiguous from 1 per gateway session; one push per (session id, seq).
  const sessionIds: string[] = [];
  const lastSeq = new Map<string, number>();
  for (const d of h.deliveries) {
    if (!lastSeq.has(d.sessionId)) {
      sessionIds.push(d.sessionId);
      lastSeq.set(d.sessionId, 0);
    }
    const expected = lastSeq.get(d.sessionId)! + 1;
    if (d.seq !== expected) p.seqGaps.push({ sessionId: d.sessionId, expected, got: d.seq });
    lastSeq.set(d.sessionId, Math.max(d.seq, lastSeq.get(d.sessionId)!));
  }
  const bySeq = new Map<string, Set<string>>();
  const note = (sessionId: string, seq: number, pushId: string) => {
    const k = `${sessionId}\u0000${seq}`;
    const s = bySeq.get(k);
    if (s) s.add(pushId);
    else bySeq.set(k, new Set([pushId]));
  };
  for (const f of h.frames ?? []) note(f.sessionId, f.seq, f.pushId);
  for (const d of h.deliveries) note(d.sessionId, d.seq, d.pushId ?? '');
  for (const [k, ids] of bySeq) {
    if (ids.size < 2) continue;
    const [sessionId, seq] = k.split('\u0000') as [string, string];
    p.reusedSeqs.push({ sessionId, seq: Number(seq), pushIds: [...ids].sort() });
  }
  p.reusedSeqs.sort((a, b) => a.seq - b.seq);

  return {
    counts: {
      accepted,
      refused,
      unknown,
      delivered: seqsOf.size,
      lost: p.lost.length,
      duplicated: p.duplicated.length,
      reused_seqs: p.reusedSeqs.length,
      order_violations: p.orderViolations.length,
      phantoms: p.phantoms.length,
      seq_gaps: p.seqGaps.length,
      sessions_replaced: Math.max(0, sessionIds.length - 1),
    },
    problems: p,
  };
}

export function check(histories: SessionHistory[]): CheckResult {
  const total: CheckResult = {
    accepted: 0,
    refused: 0,
    unknown: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    reused_seqs: 0,
    order_violations: 0,
    phantoms: 0,
    seq_gaps: 0,
    sessions_replaced: 0,
    ok: true,
    problems: [],
  };
  for (const h of histories) {
    const { counts, problems } = checkSession(h);
    for (const k of Object.keys(counts) as Array<keyof typeof counts>) total[k] += counts[k];
    const bad =
      problems.lost.length +
      problems.duplicated.length +
      problems.reusedSeqs.length +
      problems.orderViolations.length +
      problems.phantoms.length +
      problems.seqGaps.length;
    if (bad > 0) total.problems.push(problems);
  }
  total.ok =
    total.lost === 0 &&
    total.duplicated === 0 &&
    total.reused_seqs === 0 &&
    total.order_violations === 0 &&
    total.phantoms === 0;
  return total;
}

/** Human-readable lines about every problem (at most `limit` items per kind and session). */
export function describeProblems(r: CheckResult, limit = 10): string[] {
  const out: string[] = [];
  const list = <T>(xs: T[], f: (x: T) => string) =>
    xs.slice(0, limit).map(f).join(', ') + (xs.length > limit ? `, … (${xs.length - limit} more)` : '');
  for (const p of r.problems) {
    if (p.lost.length)
      out.push(
        `${p.session}: LOST ${p.lost.length}: ${list(p.lost, (x) => `${x.pushId}${x.seq !== undefined ? `(seq ${x.seq})` : ''}`)}`,
      );
    if (p.duplicated.length)
      out.push(
        `${p.session}: DUPLICATED ${p.duplicated.length}: ${list(p.duplicated, (x) => `${x.pushId} at seqs ${x.seqs.join('/')}`)}`,
      );
    if (p.reusedSeqs.length)
      out.push(
        `${p.session}: REUSED SEQS ${p.reusedSeqs.length}: ${list(p.reusedSeqs, (x) => `seq ${x.seq} of session ${x.sessionId.slice(0, 8)} = ${x.pushIds.map((i) => i || '(answer)').join(' & ')}`)}`,
      );
    if (p.orderViolations.length)
      out.push(
        `${p.session}: ORDER ${p.orderViolations.length}: ${list(p.orderViolations, (x) => `${x.pushId} delivered after ${x.after}`)}`,
      );
    if (p.phantoms.length)
      out.push(
        `${p.session}: PHANTOM (refused, delivered) ${p.phantoms.length}: ${list(p.phantoms, (x) => `${x.pushId} at seqs ${x.seqs.join('/')}`)}`,
      );
    if (p.seqGaps.length)
      out.push(
        `${p.session}: SEQ GAPS ${p.seqGaps.length}: ${list(p.seqGaps, (x) => `session ${x.sessionId.slice(0, 8)} expected ${x.expected} got ${x.got}`)}`,
      );
  }
  return out;
}

/** Windows (ms) longer than `minGapMs` in which no push was accepted, between `from` and `to`. */
export function unavailableWindows(acceptedAt: number[], from: number, to: number, minGapMs = 250): number[] {
  return unavailableSpans(acceptedAt, from, to, minGapMs).map((w) => w.ms);
}

/** The same windows with their start times. */
export function unavailableSpans(
  acceptedAt: number[],
  from: number,
  to: number,
  minGapMs = 250,
): Array<{ start: number; ms: number }> {
  const ts = acceptedAt.filter((t) => t >= from && t <= to).sort((a, b) => a - b);
  const out: Array<{ start: number; ms: number }> = [];
  let prev = from;
  for (const t of [...ts, to]) {
    if (t - prev > minGapMs) out.push({ start: prev, ms: t - prev });
    prev = t;
  }
  return out;
}

export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
