/**
 * How the admin commands print: aligned tables for a terminal, and the
 * filtering of the live event stream by openid. Pure: no I/O.
 */
import type { AdminSession } from '../client/admin-client.js';

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

/** Milliseconds since the epoch as an ISO time; '-' for 0 (never). */
export function when(ms: unknown): string {
  return typeof ms === 'number' && ms > 0 ? new Date(ms).toISOString() : '-';
}

const SESSION_HEADERS = ['SESSION', 'OPENID', 'PHASE', 'ZONE', 'ATTACHED', 'PENDING', 'LAST ACTIVITY'];

function sessionRow(s: AdminSession): string[] {
  return [
    s.sessionId,
    s.openid,
    s.phase,
    String(s.zone),
    s.attached ? 'yes' : 'no',
    String(s.pending),
    when(s.lastActivity),
  ];
}

export function sessionsTable(sessions: readonly AdminSession[]): string {
  return table(SESSION_HEADERS, sessions.map(sessionRow));
}

function scalar(v: unknown): string {
  if (Array.isArray(v))
    return v.map((x) => (typeof x === 'object' ? JSON.stringify(x) : String(x))).join(', ');
  if (v !== null && typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

const LISTS = new Set(['pendingPushes', 'inflightRequests', 'heldNotifies', 'machine']);
const TIMES = new Set(['createdAt', 'lastActivity', 'detachedAt']);

/** One snapshot: a field/value table, then its pending pushes as a table of their own. */
export function sessionDetailText(s: AdminSession): string {
  const fields = Object.entries(s)
    .filter(([k]) => !LISTS.has(k))
    .map(([k, v]) => [k, TIMES.has(k) ? when(v) : scalar(v)]);
  let out = table(['FIELD', 'VALUE'], fields);
  const pushes = Array.isArray(s.pendingPushes)
    ? (s.pendingPushes as Array<{ seq: number; answers: number; sentAt: number; retries: number }>)
    : [];
  out += `\npending pushes: ${pushes.length}\n`;
  if (pushes.length > 0) {
    out += table(
      ['SEQ', 'ANSWERS', 'SENT AT', 'RETRIES'],
      pushes.map((p) => [String(p.seq), String(p.answers), when(p.sentAt), String(p.retries)]),
    );
  }
  return out;
}

/** An admin SSE event decoded: its name and JSON data. */
export interface AdminEvent {
  event: string;
  data: Record<string, unknown>;
}

const openidOf = (v: unknown): string | undefined =>
  v !== null && typeof v === 'object' && typeof (v as { openid?: unknown }).openid === 'string'
    ? (v as { openid: string }).openid
    : undefined;

/**
 * The event as far as it concerns `openid` (all of it without one): a snapshot
 * keeps that openid's sessions, other events pass when they are about it.
 */
export function filterEvent(ev: AdminEvent, openid: string | undefined): AdminEvent | null {
  if (openid === undefined) return ev;
  if (ev.event === 'snapshot') {
    const sessions = Array.isArray(ev.data.sessions) ? ev.data.sessions : [];
    const mine = sessions.filter((s) => openidOf(s) === openid);
    return { event: ev.event, data: { ...ev.data, sessions: mine } };
  }
  const subject = ev.event === 'session' ? openidOf(ev.data.session) : openidOf(ev.data);
  return subject === openid ? ev : null;
}

/** One line per event on a terminal: time, event, openid, session, what changed. */
export function eventLine(ev: AdminEvent, now: number): string {
  const t = new Date(now).toISOString();
  if (ev.event === 'snapshot') {
    const sessions = Array.isArray(ev.data.sessions) ? ev.data.sessions.length : 0;
    return `${t}  snapshot  ${sessions} session(s) of ${scalar(ev.data.total)} on the gateway\n`;
  }
  if (ev.event === 'session') {
    const s = (ev.data.session ?? {}) as Partial<AdminSession>;
    const events = Array.isArray(ev.data.events) ? ev.data.events.join(',') : '';
    return `${t}  session   ${s.openid}  ${s.sessionId}  ${s.phase} zone=${s.zone} attached=${s.attached ? 'yes' : 'no'} pending=${s.pending}  [${events}]\n`;
  }
  if (ev.event === 'removed') {
    return `${t}  removed   ${scalar(ev.data.openid)}  ${scalar(ev.data.sessionId)}  reason=${scalar(ev.data.reason)}\n`;
  }
  return `${t}  ${ev.event}  ${JSON.stringify(ev.data)}\n`;
}
