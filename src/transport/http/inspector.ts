/**
 * Actor inspector: XState inspection of every session actor (inspector.enabled)
 * turned into a stream of session views for the operator page (SSE
 * GET /admin/events). Snapshots are coalesced per session and flushed once per
 * event-loop turn; with no subscriber the inspection callback returns at once.
 */
import type { InspectionEvent } from 'xstate';
import type { SessionLifecycle } from '../../actors/ports.js';
import type { SessionActor } from '../../actors/session-actor.js';
import { type SessionView, sessionView } from './views.js';

export type InspectorMessage =
  | { type: 'session'; session: SessionView; events: string[] }
  | { type: 'removed'; sessionId: string; openid: string; reason: string };

export type InspectorListener = (msg: InspectorMessage) => void;

/** Most event names kept per session between two flushes. */
const MAX_EVENTS_PER_FLUSH = 20;

export class SessionInspector {
  private readonly listeners = new Set<InspectorListener>();
  private readonly dirty = new Map<string, string[]>();
  private scheduled = false;
  private lookup: (sessionId: string) => SessionActor | undefined = () => undefined;

  /** Pass to SessionSystemOptions.inspect (XState `inspect`). */
  readonly inspect = (ev: InspectionEvent): void => {
    if (this.listeners.size === 0) return;
    // Session machines spawn no children: every actorRef is a session actor, id = session id.
    const id = (ev.actorRef as { id?: unknown }).id;
    if (typeof id !== 'string') return;
    if (ev.type === '@xstate.event') {
      const name = typeof ev.event?.type === 'string' ? ev.event.type : 'unknown';
      if (name.startsWith('xstate.')) return;
      this.mark(id, name);
    } else if (ev.type === '@xstate.snapshot') {
      this.mark(id, null);
    }
  };

  /** Lifecycle hook: ended sessions leave the page. */
  readonly onLifecycle = (event: SessionLifecycle): void => {
    if (event.type !== 'ended' || this.listeners.size === 0) return;
    this.dirty.delete(event.sessionId);
    this.emit({ type: 'removed', sessionId: event.sessionId, openid: event.openid, reason: event.reason });
  };

  /** Where session ids are resolved to actors (the session system). */
  attach(lookup: (sessionId: string) => SessionActor | undefined): void {
    this.lookup = lookup;
  }

  get subscribers(): number {
    return this.listeners.size;
  }

  subscribe(listener: InspectorListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.dirty.clear();
    };
  }

  private mark(sessionId: string, eventName: string | null): void {
    let events = this.dirty.get(sessionId);
    if (!events) {
      events = [];
      this.dirty.set(sessionId, events);
    }
    if (eventName !== null && events.length < MAX_EVENTS_PER_FLUSH) events.push(eventName);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const batch = [...this.dirty];
    this.dirty.clear();
    for (const [sessionId, events] of batch) {
      const actor = this.lookup(sessionId);
      if (!actor || actor.isEnded) continue;
      this.emit({ type: 'session', session: sessionView(actor), events });
    }
  }

  private emit(msg: InspectorMessage): void {
    for (const l of this.listeners) {
      try {
        l(msg);
      } catch {
        // a broken subscriber must not stop the others
      }
    }
  }
}
