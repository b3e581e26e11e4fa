/** JSON views of session actors for the admin API, the inspector stream and the operator page. */
import type { SessionActor } from '../../actors/session-actor.js';

/** { active: { phase: 'normal', link: 'attached' } } -> "active.phase.normal, active.link.attached". */
export function flattenStateValue(value: unknown, prefix = ''): string[] {
  if (typeof value === 'string') return [prefix ? `${prefix}.${value}` : value];
  if (value && typeof value === 'object') {
    const out: string[] = [];
    for (const [k, v] of Object.entries(value))
      out.push(...flattenStateValue(v, prefix ? `${prefix}.${k}` : k));
    return out;
  }
  return [prefix];
}

/** One session in lists and in the inspector stream. */
export interface SessionView {
  sessionId: string;
  openid: string;
  phase: string;
  zone: number;
  attached: boolean;
  /** XState state value, flattened: ["active.phase.normal", "active.link.attached"]. */
  state: string[];
  machine: unknown;
  lastClientSeq: number;
  nextSeq: number;
  lastAckedSeq: number;
  pending: number;
  pendingSeqs: number[];
  held: number;
  inflight: number[];
  resumes: number;
  takeovers: number;
  createdAt: number;
  lastActivity: number;
  detachedAt: number;
}

const MAX_SEQS = 200;

export function sessionView(actor: SessionActor): SessionView {
  const sum = actor.summary();
  const s = actor.state;
  return {
    sessionId: sum.sessionId,
    openid: sum.openid,
    phase: sum.phase,
    zone: sum.zone,
    attached: sum.attached,
    state: flattenStateValue(sum.machine),
    machine: sum.machine,
    lastClientSeq: sum.lastClientSeq,
    nextSeq: sum.nextSeq,
    lastAckedSeq: sum.lastAckedSeq,
    pending: sum.pending,
    pendingSeqs: sum.pendingSeqs.slice(0, MAX_SEQS),
    held: sum.held,
    inflight: sum.inflight.slice(0, MAX_SEQS),
    resumes: sum.resumes,
    takeovers: sum.takeovers,
    createdAt: s.createdAt,
    lastActivity: sum.lastActivity,
    detachedAt: sum.detachedAt,
  };
}

/** The whole actor snapshot for GET /admin/sessions/:id. */
export interface SessionDetail extends SessionView {
  linkId: number;
  pendingPushes: Array<{ seq: number; answers: number; sentAt: number; retries: number }>;
  inflightRequests: Array<{ clientSeq: number; msgId: number; acceptedAt: number }>;
  heldNotifies: Array<{ clientSeq: number; count: number; hints: number[] }>;
  closedReason: string;
}

const MAX_DETAIL_ITEMS = 1000;

export function sessionDetail(actor: SessionActor): SessionDetail {
  const s = actor.state;
  const pending = s.queue.pending();
  const held: SessionDetail['heldNotifies'] = [];
  for (const clientSeq of s.binder.seqs()) {
    const notes = s.binder.heldFor(clientSeq);
    held.push({ clientSeq, count: notes.length, hints: notes.map((n) => n.hint) });
  }
  return {
    ...sessionView(actor),
    pendingSeqs: pending.slice(0, MAX_DETAIL_ITEMS).map((e) => e.seq),
    linkId: actor.linkId,
    pendingPushes: pending
      .slice(0, MAX_DETAIL_ITEMS)
      .map((e) => ({ seq: e.seq, answers: e.answers, sentAt: e.sentAt, retries: e.retries })),
    inflightRequests: [...s.inflight]
      .slice(0, MAX_DETAIL_ITEMS)
      .map(([clientSeq, r]) => ({ clientSeq, msgId: r.msgId, acceptedAt: r.at })),
    heldNotifies: held,
    closedReason: s.closedReason,
  };
}
