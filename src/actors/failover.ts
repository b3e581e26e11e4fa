/**
 * Pure logic of hot backup and session moves (no NATS here): folding a stream
 * of stored session records into ready sessions, and preparing a rebuilt
 * session to be adopted by a gateway that did not run it.
 */
import {
  applySessionEvent,
  emptySessionState,
  replaySessionEvents,
  type SessionEvent,
  type SessionState,
} from '../machines/session-state.js';

export interface StoredRecord {
  snapshot: boolean;
  /** Part k of n of a snapshot stored as several records (event-codec.ts). */
  part?: { id: string; k: number; n: number };
  events: readonly SessionEvent[];
}

interface PartialSnapshot {
  id: string;
  next: number;
  n: number;
  events: SessionEvent[];
}

/**
 * Every session of a log, kept current record by record (what a backup gateway
 * does continuously). Closed sessions are dropped; a record that cannot apply
 * marks the session broken (it is then rebuilt from the log on demand).
 */
export class SessionFold {
  private readonly states = new Map<string, SessionState>();
  /** Snapshots stored in parts, until their last part arrives. */
  private readonly partial = new Map<string, PartialSnapshot>();
  readonly broken = new Set<string>();

  constructor(private readonly maxQueue: number) {}

  get size(): number {
    return this.states.size;
  }

  get(sessionId: string): SessionState | undefined {
    return this.states.get(sessionId);
  }

  apply(sessionId: string, record: StoredRecord): void {
    if (record.part) {
      this.applyPart(sessionId, record.part, record.events);
      return;
    }
    // Parts not completed before another record: their writer stopped mid-way; the state before them stands.
    this.partial.delete(sessionId);
    try {
      let s: SessionState;
      if (record.snapshot) {
        s = replaySessionEvents(record.events, this.maxQueue);
        this.broken.delete(sessionId);
      } else {
        if (this.broken.has(sessionId)) return;
        s = this.states.get(sessionId) ?? emptySessionState(this.maxQueue);
        for (const e of record.events) applySessionEvent(s, e);
      }
      if (s.phase === 'closed') this.states.delete(sessionId);
      else this.states.set(sessionId, s);
    } catch {
      this.states.delete(sessionId);
      this.broken.add(sessionId);
    }
  }

  private applyPart(
    sessionId: string,
    part: NonNullable<StoredRecord['part']>,
    events: readonly SessionEvent[],
  ) {
    let p = this.partial.get(sessionId);
    if (part.k === 0) {
      p = { id: part.id, next: 0, n: part.n, events: [] };
      this.partial.set(sessionId, p);
    } else if (!p || p.id !== part.id || p.next !== part.k) {
      this.partial.delete(sessionId);
      return;
    }
    for (const e of events) p.events.push(e);
    p.next++;
    if (p.next === p.n) {
      this.partial.delete(sessionId);
      this.apply(sessionId, { snapshot: true, events: p.events });
    }
  }

  /** The session's log was purged (it ended). */
  drop(sessionId: string): void {
    this.states.delete(sessionId);
    this.partial.delete(sessionId);
    this.broken.delete(sessionId);
  }

  /** Hand every folded session over (promotion) and start empty. */
  takeAll(): Map<string, SessionState> {
    const out = new Map(this.states);
    this.states.clear();
    this.partial.clear();
    return out;
  }
}

export interface Adoption {
  /** Client seqs whose upstream answer was never stored: they get ERROR 503. */
  orphanedRequests: number[];
}

/**
 * Prepare a session rebuilt from the log to run here: it is detached (its
 * connection was on the lost gateway), and null when it is closed, unnamed or
 * past its resume window (measured from the detach, or from `now` for a
 * session that was attached).
 */
export function prepareAdoption(s: SessionState, now: number, resumeWindowMs: number): Adoption | null {
  if (s.phase === 'closed' || s.sessionId === '' || s.openid === '') return null;
  if (s.attached) applySessionEvent(s, { v: 1, type: 'detached', at: now });
  if (s.detachedAt > 0 && now - s.detachedAt >= resumeWindowMs) return null;
  return { orphanedRequests: [...s.inflight.keys()].sort((a, b) => a - b) };
}
