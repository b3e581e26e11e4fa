/**
 * The only things a session actor holds (ARCHITECTURE.md, "Ports"). Adapters in
 * src/transport implement them; tests can implement them in memory.
 */

import type { SessionEvent } from '../machines/session-state.js';
import type { UpstreamRequest, UpstreamResponse } from '../protocol/messages.js';

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
 */
export interface EventLog {
  append(sessionId: string, events: readonly SessionEvent[]): void | Promise<void>;
  /** The session is gone for good; its events may be dropped. */
  forget(sessionId: string): void | Promise<void>;
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
