/**
 * What a session is, as a fold of its events. The live session actor changes its
 * state only by applying these events, so replaying a stored log (snapshot plus
 * later events) rebuilds exactly the live state: that is what a backup gateway
 * does continuously. Pure: no I/O, no clocks (times travel inside events).
 */
import type { NotifySyncHint } from '../protocol/codes.js';
import { NotifyBinder } from './notify-binder.js';
import { OrderedQueue } from './ordered-queue.js';

export const SESSION_EVENT_VERSION = 1;

export type SessionPhase = 'inited' | 'normal' | 'closed';

/** Every change of a session. `v` versions the schema of stored events. */
export type SessionEvent =
  | { v: 1; type: 'started'; sessionId: string; openid: string; at: number }
  | { v: 1; type: 'logged_in'; zone: number; at: number }
  | { v: 1; type: 'request_accepted'; clientSeq: number; msgId: number; at: number }
  | { v: 1; type: 'request_done'; clientSeq: number }
  /** A reliable push entered the ordered queue with its seq (answers, errors, notifies). */
  | { v: 1; type: 'pushed'; seq: number; frame: Uint8Array; answers: number; pid?: string }
  /** A notify accepted and held for an in-flight request (no seq yet). */
  | { v: 1; type: 'held'; clientSeq: number; hint: NotifySyncHint; payload: Uint8Array; pid?: string }
  | { v: 1; type: 'acked'; seq: number }
  | { v: 1; type: 'attached'; at: number; kind: 'new' | 'resume' | 'takeover' }
  | { v: 1; type: 'detached'; at: number }
  | { v: 1; type: 'closed'; at: number; reason: string }
  /** Start of a compacted log: the queue begins after `lastAcked`. */
  | {
      v: 1;
      type: 'rebased';
      lastAcked: number;
      lastClientSeq: number;
      resumes: number;
      takeovers: number;
      /** Ids of recently accepted producer pushes (de-duplication survives compaction). */
      pushIds?: string[];
    };

/**
 * How many producer push ids a session remembers (`pid` of pushed/held events):
 * a push redelivered with an id already seen (a NATS message redelivered after a
 * failover) is acknowledged again without being queued twice.
 */
export const PUSH_ID_WINDOW = 256;

export interface InflightRequest {
  msgId: number;
  at: number;
}

export interface SessionState {
  sessionId: string;
  openid: string;
  phase: SessionPhase;
  zone: number;
  attached: boolean;
  /** Highest accepted BUSINESS seq. */
  lastClientSeq: number;
  queue: OrderedQueue;
  binder: NotifyBinder;
  inflight: Map<number, InflightRequest>;
  /** client seq -> server seq of its answer, while the answer is unacknowledged. */
  answered: Map<number, number>;
  createdAt: number;
  detachedAt: number;
  closedReason: string;
  resumes: number;
  takeovers: number;
  /** Recent producer push ids, oldest first (at most PUSH_ID_WINDOW). */
  pushIds: Set<string>;
}

function rememberPushId(s: SessionState, pid: string | undefined): void {
  if (pid === undefined) return;
  s.pushIds.delete(pid);
  s.pushIds.add(pid);
  if (s.pushIds.size > PUSH_ID_WINDOW) {
    const oldest = s.pushIds.values().next().value;
    if (oldest !== undefined) s.pushIds.delete(oldest);
  }
}

export function emptySessionState(maxQueue: number): SessionState {
  return {
    sessionId: '',
    openid: '',
    phase: 'inited',
    zone: 0,
    attached: false,
    lastClientSeq: 0,
    queue: new OrderedQueue(maxQueue),
    binder: new NotifyBinder(),
    inflight: new Map(),
    answered: new Map(),
    createdAt: 0,
    detachedAt: 0,
    closedReason: '',
    resumes: 0,
    takeovers: 0,
    pushIds: new Set(),
  };
}

/** Apply one event (mutates `s`). Unknown versions are refused loudly. */
export function applySessionEvent(s: SessionState, e: SessionEvent): void {
  if (e.v !== SESSION_EVENT_VERSION) throw new Error(`unsupported session event version ${String(e.v)}`);
  switch (e.type) {
    case 'started':
      s.sessionId = e.sessionId;
      s.openid = e.openid;
      s.createdAt = e.at;
      s.phase = 'inited';
      return;
    case 'logged_in':
      s.phase = 'normal';
      s.zone = e.zone;
      return;
    case 'request_accepted':
      s.lastClientSeq = Math.max(s.lastClientSeq, e.clientSeq);
      s.inflight.set(e.clientSeq, { msgId: e.msgId, at: e.at });
      return;
    case 'request_done':
      s.inflight.delete(e.clientSeq);
      // Notifies bound to it were released as `pushed` events just before (a no-op live).
      s.binder.releaseInOrder(e.clientSeq);
      return;
    case 'pushed':
      s.queue.restore(e.seq, e.frame, e.answers);
      if (e.answers > 0) s.answered.set(e.answers, e.seq);
      rememberPushId(s, e.pid);
      return;
    case 'held':
      s.binder.hold(e.clientSeq, { hint: e.hint, payload: e.payload });
      rememberPushId(s, e.pid);
      return;
    case 'acked':
      for (const entry of s.queue.ack(e.seq)) {
        if (entry.answers > 0) s.answered.delete(entry.answers);
      }
      return;
    case 'attached':
      if (e.kind === 'takeover') s.takeovers++;
      else if (e.kind === 'resume') s.resumes++;
      s.attached = true;
      s.detachedAt = 0;
      s.queue.resetForNewLink();
      return;
    case 'detached':
      s.attached = false;
      s.detachedAt = e.at;
      return;
    case 'closed':
      s.phase = 'closed';
      s.attached = false;
      s.closedReason = e.reason;
      return;
    case 'rebased':
      s.queue = new OrderedQueue(s.queue.maxQueue, e.lastAcked + 1, e.lastAcked);
      s.answered.clear();
      s.lastClientSeq = Math.max(s.lastClientSeq, e.lastClientSeq);
      s.resumes = e.resumes;
      s.takeovers = e.takeovers;
      if (e.pushIds) for (const pid of e.pushIds) rememberPushId(s, pid);
      return;
  }
}

/**
 * The shortest event list that rebuilds `s` (a snapshot, for compaction): what
 * was acknowledged or answered long ago is folded away.
 */
export function snapshotEvents(s: SessionState): SessionEvent[] {
  const out: SessionEvent[] = [
    { v: 1, type: 'started', sessionId: s.sessionId, openid: s.openid, at: s.createdAt },
  ];
  if (s.phase === 'normal') out.push({ v: 1, type: 'logged_in', zone: s.zone, at: s.createdAt });
  out.push({
    v: 1,
    type: 'rebased',
    lastAcked: s.queue.lastAcked,
    lastClientSeq: s.lastClientSeq,
    resumes: s.resumes,
    takeovers: s.takeovers,
    ...(s.pushIds.size > 0 ? { pushIds: [...s.pushIds] } : {}),
  });
  for (const [clientSeq, r] of s.inflight)
    out.push({ v: 1, type: 'request_accepted', clientSeq, msgId: r.msgId, at: r.at });
  for (const e of s.queue.pending())
    out.push({ v: 1, type: 'pushed', seq: e.seq, frame: e.frame, answers: e.answers });
  for (const clientSeq of s.binder.seqs()) {
    for (const n of s.binder.heldFor(clientSeq))
      out.push({ v: 1, type: 'held', clientSeq, hint: n.hint, payload: n.payload });
  }
  if (s.attached) out.push({ v: 1, type: 'attached', at: s.createdAt, kind: 'new' });
  else if (s.detachedAt > 0) out.push({ v: 1, type: 'detached', at: s.detachedAt });
  if (s.phase === 'closed') out.push({ v: 1, type: 'closed', at: s.detachedAt, reason: s.closedReason });
  return out;
}

export function replaySessionEvents(events: Iterable<SessionEvent>, maxQueue: number): SessionState {
  const s = emptySessionState(maxQueue);
  for (const e of events) applySessionEvent(s, e);
  return s;
}

/** A plain, comparable view of the state (for snapshots, admin and tests). */
export interface SessionSummary {
  sessionId: string;
  openid: string;
  phase: SessionPhase;
  zone: number;
  attached: boolean;
  lastClientSeq: number;
  nextSeq: number;
  lastAckedSeq: number;
  pending: number;
  pendingSeqs: number[];
  held: number;
  inflight: number[];
  detachedAt: number;
  resumes: number;
  takeovers: number;
}

export function summarizeSession(s: SessionState): SessionSummary {
  return {
    sessionId: s.sessionId,
    openid: s.openid,
    phase: s.phase,
    zone: s.zone,
    attached: s.attached,
    lastClientSeq: s.lastClientSeq,
    nextSeq: s.queue.nextSeq,
    lastAckedSeq: s.queue.lastAcked,
    pending: s.queue.size,
    pendingSeqs: s.queue.pending().map((e) => e.seq),
    held: s.binder.count,
    inflight: [...s.inflight.keys()].sort((a, b) => a - b),
    detachedAt: s.detachedAt,
    resumes: s.resumes,
    takeovers: s.takeovers,
  };
}
