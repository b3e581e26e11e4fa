/** A point-in-time pass over every live session (gauges, /stats). Pure. */
import type { SessionState } from '../machines/session-state.js';

export interface SessionScan {
  total: number;
  byPhase: { inited: number; normal: number; closed: number };
  attached: number;
  detached: number;
  /** zone -> sessions (logged-in sessions only). */
  zones: Record<string, number>;
  /** Reliable pushes queued or unacknowledged. */
  pending: number;
  /** Notifies held for an in-flight request. */
  held: number;
  /** BUSINESS requests accepted and not answered yet. */
  inflight: number;
}

export function scanSessions(sessions: Iterable<{ readonly state: SessionState }>): SessionScan {
  const scan: SessionScan = {
    total: 0,
    byPhase: { inited: 0, normal: 0, closed: 0 },
    attached: 0,
    detached: 0,
    zones: {},
    pending: 0,
    held: 0,
    inflight: 0,
  };
  for (const actor of sessions) {
    const s = actor.state;
    scan.total++;
    scan.byPhase[s.phase]++;
    if (s.attached) scan.attached++;
    else scan.detached++;
    if (s.phase === 'normal') {
      const z = String(s.zone);
      scan.zones[z] = (scan.zones[z] ?? 0) + 1;
    }
    scan.pending += s.queue.size;
    scan.held += s.binder.count;
    scan.inflight += s.inflight.size;
  }
  return scan;
}
