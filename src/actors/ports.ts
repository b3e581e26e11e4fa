/**
 * The only things a session actor holds (docs/architecture.md, "Ports"). Adapters in
 * src/transport implement them; tests can implement them in memory.
 */

import type { SessionEvent } from '../machines/session-state.js';
import type { PushResult } from '../machines/session-types.js';
import type { NotifySyncHint } from '../protocol/codes.js';
import type { UpstreamRequest, UpstreamResponse } from '../protocol/messages.js';

/**
 * Structured logging, the slice of pino every part uses (a pino Logger is one).
 * Errors go in as `{ err }`: pino's serializer keeps their type, message, stack and cause.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Admission decisions of the overload protector (docs/protocol.md section 6: 429 / close 0x03). */
export interface Admission {
  /** A new connection may be served. */
  admitConnection(active: number): boolean;
  /** A BUSINESS request of this session may go on (QPS, per-session rate). */
  admitRequest(sessionId: string): boolean;
  connectionClosed?(): void;
}

export const admitAll: Admission = { admitConnection: () => true, admitRequest: () => true };

export type PushTarget = { kind: 'session' | 'openid'; id: string };

/**
 * Where accepted pushes go: the local SessionSystem, or a cluster-aware router in
 * front of it. `broadcast` rejects with a coded error (UnavailableError when
 * nothing can be accepted), never a plain Error.
 */
export interface PushSink {
  push(
    target: PushTarget,
    payload: Uint8Array,
    hint: NotifySyncHint,
    bindSeq: number,
    pushId?: string,
  ): Promise<PushResult>;
  broadcast(payload: Uint8Array, zone: number, pushId?: string): Promise<number>;
}

export type SessionLifecycle =
  | { type: 'created'; sessionId: string; openid: string }
  | { type: 'resumed'; sessionId: string; openid: string; takeover: boolean }
  /** The session became NORMAL (hello answered with a zone). */
  | { type: 'login'; sessionId: string; openid: string; zone: number }
  /** The session lost its connection (it stays resumable). */
  | { type: 'detached'; sessionId: string; openid: string }
  | { type: 'ended'; sessionId: string; openid: string; reason: string };

/** A client connection as the session sees it; swapped on resume and takeover. */
export interface SessionLink {
  readonly id: number;
  readonly connectionId: string;
  send(frames: readonly Uint8Array[]): void;
  close(code: number, reason: string): void;
}

/** Calls an upstream service; rejects with a GateError (429, 502, 503, 504). */
export interface Upstream {
  call(service: string, request: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse>;
}

/**
 * Where session events are stored. `append` returns nothing when the events are
 * stored at once (in-process) or a promise that settles once they are durable;
 * the actor holds back every later effect (frames, producer answers) until then.
 *
 * An adapter may also return nothing for an append none of whose events
 * `holdsBackEffects` (see there): it must still store them, in order with the
 * session's other appends, just without making the actor wait.
 */
export interface EventLog {
  append(sessionId: string, events: readonly SessionEvent[]): void | Promise<void>;
  /** The session is gone for good; its events may be dropped. */
  forget(sessionId: string): void | Promise<void>;
}

/**
 * Event types whose loss in a crash is harmless, so they need not be durable
 * before the effects that follow them:
 * - `acked`: a gateway rebuilding the session resends pushes the client already
 *   acknowledged; the client drops them as duplicates (seq <= delivered).
 * - `detached`: a rebuilt session is adopted detached anyway (its link was on
 *   the lost gateway).
 * `attached` stays durable first: it restarts the resume window, and a backup
 * that missed it could expire a session its client is still using. Attaches are
 * rare, so this costs nothing measurable.
 * Everything else must be stored first: `pushed` before its frame leaves (a
 * rebuilt session would reuse its seq), `request_accepted` before the upstream
 * call, `pushed`/`held` before the producer is told "accepted", and so on.
 */
const DEFERRABLE: ReadonlySet<SessionEvent['type']> = new Set(['acked', 'detached']);

/** Whether effects after an append of `events` must wait until it is durable. */
export function holdsBackEffects(events: readonly SessionEvent[]): boolean {
  for (const e of events) if (!DEFERRABLE.has(e.type)) return true;
  return false;
}

export interface Clock {
  now(): number;
  setTimer(delayMs: number, fn: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (delayMs, fn) => {
    const t = setTimeout(fn, Math.max(0, delayMs));
    t.unref?.();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
