/**
 * The in-process event log (the embedded default): events are stored at once,
 * per session, and compacted into a snapshot when a session's log grows, so
 * memory follows what is pending rather than everything ever pushed.
 */
import {
  replaySessionEvents,
  type SessionEvent,
  type SessionState,
  snapshotEvents,
} from '../machines/session-state.js';
import type { EventLog } from './ports.js';

const COMPACT_MIN = 256;

export class MemoryEventLog implements EventLog {
  private readonly logs = new Map<string, { events: SessionEvent[]; compactAt: number }>();

  constructor(private readonly maxQueue: number) {}

  append(sessionId: string, events: readonly SessionEvent[]): void {
    let log = this.logs.get(sessionId);
    if (!log) {
      log = { events: [], compactAt: COMPACT_MIN };
      this.logs.set(sessionId, log);
    }
    for (const e of events) log.events.push(e);
    if (log.events.length >= log.compactAt) {
      log.events = snapshotEvents(replaySessionEvents(log.events, this.maxQueue));
      // Amortized: the next compaction waits until the log doubles again.
      log.compactAt = Math.max(COMPACT_MIN, log.events.length * 2);
    }
  }

  forget(sessionId: string): void {
    this.logs.delete(sessionId);
  }

  /** Stored events of one session (tests, admin). */
  load(sessionId: string): readonly SessionEvent[] {
    return this.logs.get(sessionId)?.events ?? [];
  }

  /** Rebuild a session from its stored events. */
  replay(sessionId: string): SessionState | null {
    const log = this.logs.get(sessionId);
    return log ? replaySessionEvents(log.events, this.maxQueue) : null;
  }

  sessionIds(): string[] {
    return [...this.logs.keys()];
  }
}
