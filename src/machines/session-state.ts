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
  /**
   * A reliable push entered the ordered queue with its seq (answers, errors, notifies).
   * `pid`: the producer's push id; `at` (acceptance time) and `until` (end of its
   * de-duplication window) are absent in events stored before v1.1.
   */
  | {
      v: 1;
      type: 'pushed';
      seq: number;
      frame: Uint8Array;
      answers: number;
      pid?: string;
      at?: number;
      until?: number;
    }
  /** A notify accepted and held for an in-flight request (no seq yet). Push id fields as for `pushed`. */
  | {
      v: 1;
      type: 'held';
      clientSeq: number;
      hint: NotifySyncHint;
      payload: Uint8Array;
      pid?: string;
      at?: number;
      until?: number;
    }
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
      /** Push ids of stored events before v1.1 (no times): remembered with the default window. */
      pushIds?: string[];
      /** Remembered push ids, oldest first: [pid, seq, at, until] (de-duplication survives compaction). */
      pids?: Array<[string, number, number, number]>;
      /** Latest event time of the session when compacted. */
      at?: number;
    };

/**
 * Most push ids a session remembers, whatever the window: a bound on memory and
 * on snapshot size (an id is at most 128 bytes). When a session accepts more
 * pushes with ids within one `push_dedup_window`, the oldest ids are forgotten
 * early.
 */
export const PUSH_ID_CAP = 1024;

/** De-duplication window given to push ids of events stored before v1.1 (they carry no times). */
export const LEGACY_PUSH_ID_WINDOW_MS = 10 * 60_000;

/** A push id accepted by the session: the seq it got (0 while held) and its window. */
export interface PushIdEntry {
  seq: number;
  /** When it was accepted (event time). */
  at: number;
  /** End of its de-duplication window (event time): a repeat at `now < until` is a duplicate. */
  until: number;
}

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
  /**
   * Producer push ids accepted within their window, in acceptance order (at most
   * PUSH_ID_CAP). Entries whose window ended are dropped when a later id is
   * remembered; `pushIdOf` ignores them meanwhile.
   */
  pushIds: Map<string, PushIdEntry>;
  /** Latest event time seen (times of push ids stored without one). */
  clock: number;
}

/**
 * Remember push id `pid` (from a pushed/held event). An id whose window is
 * still open keeps its time and window; a seq learned later (a held notify
 * released) is recorded. Events stored before v1.1 carry no times: the session's latest
 * event time and the legacy window stand in.
 */
function rememberPushId(
  s: SessionState,
  pid: string | undefined,
  seq: number,
  at: number | undefined,
  until: number | undefined,
): void {
  if (pid === undefined) return;
  const t = at ?? s.clock;
  const known = s.pushIds.get(pid);
  if (known && known.until > t) {
    if (seq > 0) known.seq = seq;
    return;
  }
  // A new acceptance after the window ended starts a new window (at the back).
  if (known) s.pushIds.delete(pid);
  const end = until ?? t + LEGACY_PUSH_ID_WINDOW_MS;
  // Windows end in acceptance order (one window per gateway): drop the ended ones from the front.
  for (const [id, e] of s.pushIds) {
    if (e.until > t) break;
    s.pushIds.delete(id);
  }
  s.pushIds.set(pid, { seq, at: t, until: end });
  while (s.pushIds.size > PUSH_ID_CAP) {
    const oldest = s.pushIds.keys().next().value;
    if (oldest === undefined) break;
    s.pushIds.delete(oldest);
  }
}

/** The acceptance of push id `pid` while its window is open at `now`, else undefined. */
export function pushIdOf(s: SessionState, pid: string, now: number): PushIdEntry | undefined {
  const e = s.pushIds.get(pid);
  return e && now < e.until ? e : undefined;
}

/** Bytes of pending reliable pushes: queued and unacknowledged frames plus held notifies. */
export function pendingBytes(s: SessionState): number {
  return s.queue.bytes + s.binder.bytes;
}

function tick(s: SessionState, at: number | undefined): void {
  if (at !== undefined && at > s.clock) s.clock = at;
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
    pushIds: new Map(),
    clock: 0,
  };
}

/** Apply one event (mutates `s`). Unknown versions are refused loudly. */
export function applySessionEvent(s: SessionState, e: SessionEvent): void {
  if (e.v !== SESSION_EVENT_VERSION) throw new Error(`unsupported session event version ${String(e.v)}`);
  if ('at' in e) tick(s, e.at);
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
      rememberPushId(s, e.pid, e.seq, e.at, e.until);
      return;
    case 'held':
      s.binder.hold(
        e.clientSeq,
        e.pid === undefined
          ? { hint: e.hint, payload: e.payload }
          : { hint: e.hint, payload: e.payload, pid: e.pid },
      );
      rememberPushId(s, e.pid, 0, e.at, e.until);
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
      if (e.pushIds) for (const pid of e.pushIds) rememberPushId(s, pid, 0, undefined, undefined);
      if (e.pids) for (const [pid, seq, at, until] of e.pids) rememberPushId(s, pid, seq, at, until);
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
  // Ids whose window ended by the latest event time are folded away too.
  const pids: Array<[string, number, number, number]> = [];
  for (const [pid, e] of s.pushIds) if (e.until > s.clock) pids.push([pid, e.seq, e.at, e.until]);
  if (s.phase === 'normal') out.push({ v: 1, type: 'logged_in', zone: s.zone, at: s.createdAt });
  out.push({
    v: 1,
    type: 'rebased',
    lastAcked: s.queue.lastAcked,
    lastClientSeq: s.lastClientSeq,
    resumes: s.resumes,
    takeovers: s.takeovers,
    ...(pids.length > 0 ? { pids } : {}),
    ...(s.clock > 0 ? { at: s.clock } : {}),
  });
  for (const [clientSeq, r] of s.inflight)
    out.push({ v: 1, type: 'request_accepted', clientSeq, msgId: r.msgId, at: r.at });
  for (const e of s.queue.pending())
    out.push({ v: 1, type: 'pushed', seq: e.seq, frame: e.frame, answers: e.answers });
  for (const clientSeq of s.binder.seqs()) {
    for (const n of s.binder.heldFor(clientSeq)) {
      const known = n.pid === undefined ? undefined : s.pushIds.get(n.pid);
      out.push(
        n.pid !== undefined && known && known.until > s.clock
          ? {
              v: 1,
              type: 'held',
              clientSeq,
              hint: n.hint,
              payload: n.payload,
              pid: n.pid,
              at: known.at,
              until: known.until,
            }
          : { v: 1, type: 'held', clientSeq, hint: n.hint, payload: n.payload },
      );
    }
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
