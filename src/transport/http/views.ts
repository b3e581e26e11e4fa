/** JSON views of session actors for the admin API, the inspector stream and the operator page. */
import type { SessionActor } from '../../actors/session-actor.js';
import type { SessionSummary } from '../../machines/session-state.js';

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

/** One session in lists and in the inspector stream: the session summary, seq lists capped. */
export interface SessionView extends SessionSummary {
  /** XState state value, flattened: ["active.phase.normal", "active.link.attached"]. */
  state: string[];
  machine: unknown;
  createdAt: number;
  lastActivity: number;
}

const MAX_SEQS = 200;

export function sessionView(actor: SessionActor): SessionView {
  const sum = actor.summary();
  return {
    ...sum,
    state: flattenStateValue(sum.machine),
    pendingSeqs: sum.pendingSeqs.slice(0, MAX_SEQS),
    inflight: sum.inflight.slice(0, MAX_SEQS),
    createdAt: actor.state.createdAt,
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
