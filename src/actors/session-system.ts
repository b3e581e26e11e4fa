/**
 * The actor system: spawns one SessionActor per session, indexes them by session
 * id and by openid, decides new session / resume / takeover on START (docs/protocol.md
 * section 4), and routes producer pushes to the right actor.
 */
import { randomUUID } from 'node:crypto';
import type { PushItem, PushResult, SessionOutput } from '../machines/session-machine.js';
import type { SessionState } from '../machines/session-state.js';
import { NotifySyncHint } from '../protocol/codes.js';
import type { Logger, PushTarget, SessionLifecycle, SessionLink } from './ports.js';
import { SessionActor, type SessionActorDeps } from './session-actor.js';

/** What every actor gets (SessionActorDeps less the callbacks the system owns), plus the system's own hooks. */
export interface SessionSystemOptions extends Omit<SessionActorDeps, 'onEnded' | 'onError' | 'onFailed'> {
  logger?: Logger;
  /** A session began, resumed, was taken over or ended (lifecycle events for upstreams, metrics). */
  onLifecycle?: (event: SessionLifecycle) => void;
  /**
   * A session's store failed and it was dropped from this gateway (not ended:
   * its log stays, and a later START or push rebuilds it from there).
   */
  onSessionFailed?: (sessionId: string, openid: string, err: unknown) => void;
}

export interface StartOutcome {
  actor: SessionActor;
  resumed: boolean;
}

export class SessionSystem {
  private readonly bySession = new Map<string, SessionActor>();
  private readonly byOpenid = new Map<string, SessionActor>();

  constructor(private readonly opts: SessionSystemOptions) {}

  get size(): number {
    return this.bySession.size;
  }

  sessions(): IterableIterator<SessionActor> {
    return this.bySession.values();
  }

  get(sessionId: string): SessionActor | undefined {
    return this.bySession.get(sessionId);
  }

  findByOpenid(openid: string): SessionActor | undefined {
    return this.byOpenid.get(openid);
  }

  find(target: PushTarget): SessionActor | undefined {
    return target.kind === 'session' ? this.bySession.get(target.id) : this.byOpenid.get(target.id);
  }

  /**
   * A valid START: resume the openid's session when it is attached (takeover) or
   * was active within resume_window; otherwise discard it and start a new one.
   */
  start(openid: string, link: SessionLink, msgId: number, lastAckedSeq: number): StartOutcome {
    const now = this.opts.clock.now();
    const existing = this.byOpenid.get(openid);
    if (existing && !existing.isEnded && this.resumable(existing, now)) {
      const takeover = existing.state.attached;
      existing.attach(link, msgId, lastAckedSeq, false);
      this.opts.onLifecycle?.({ type: 'resumed', sessionId: existing.sessionId, openid, takeover });
      return { actor: existing, resumed: true };
    }
    if (existing && !existing.isEnded) existing.send({ type: 'KICK', reason: 'replaced_by_new_session' });
    const actor = this.spawn(randomUUID(), openid);
    actor.attach(link, msgId, lastAckedSeq, true);
    this.opts.onLifecycle?.({ type: 'created', sessionId: actor.sessionId, openid });
    return { actor, resumed: false };
  }

  /** Adopt a session rebuilt from stored events (backup promotion, restart). */
  restore(state: SessionState): SessionActor {
    const old = this.bySession.get(state.sessionId);
    old?.dispose();
    const actor = this.spawn(state.sessionId, state.openid, state);
    return actor;
  }

  push(
    target: PushTarget,
    payload: Uint8Array,
    hint: NotifySyncHint,
    bindSeq: number,
    pushId?: string,
  ): Promise<PushResult> {
    const actor = this.find(target);
    if (!actor || actor.isEnded) {
      return Promise.resolve({
        ok: false,
        errorCode: 'SESSION_NOT_FOUND',
        message: `no session for ${target.kind} ${target.id}`,
      });
    }
    return actor.push(payload, hint, bindSeq, pushId);
  }

  /**
   * Give the openid's session up to another gateway (a takeover there): pending
   * stores complete, the actor stops without ending the session, its link is
   * closed with `code` (SESSION_TAKEN_OVER). Resolves with the session id, or null.
   */
  async handOff(openid: string, code: number): Promise<string | null> {
    const actor = this.byOpenid.get(openid);
    if (!actor || actor.isEnded) return null;
    await actor.handOff(code, 'session taken over');
    this.unindex(actor);
    this.opts.logger?.info({ sessionId: actor.sessionId, openid }, 'session handed off');
    return actor.sessionId;
  }

  /**
   * One encoded payload fans out to every NORMAL session (or one zone). Returns
   * how many sessions accepted it; a session whose queue is full is skipped.
   */
  broadcast(payload: Uint8Array, zone: number, pushId?: string): Promise<number> {
    // One item and one counter for the whole fan-out (not a promise per session):
    // the payload is encoded once, and each session only adds its envelope.
    return new Promise((resolve) => {
      let waiting = 1;
      let accepted = 0;
      const release = (): void => {
        if (--waiting === 0) resolve(accepted);
      };
      const reply = (r: PushResult): void => {
        if (r.ok) accepted++;
        release();
      };
      const item: PushItem = { payload, hint: NotifySyncHint.IMMEDIATELY, bindSeq: 0, pushId, reply };
      for (const actor of this.bySession.values()) {
        const s = actor.state;
        if (s.phase !== 'normal' || (zone !== 0 && s.zone !== zone)) continue;
        waiting++;
        actor.offer(item);
      }
      release(); // the loop's own hold: resolves now when no session was offered it
    });
  }

  /** Close every link with SERVER_SHUTDOWN; sessions stay in the log for a resume elsewhere. */
  shutdown(): void {
    for (const actor of this.bySession.values()) actor.send({ type: 'SHUTDOWN' });
  }

  /**
   * This gateway stopped serving (it lost the serving lease): every actor stops
   * without storing anything more (the new holder owns the log now) and its
   * connection is closed with `code`.
   */
  abandonAll(code: number): void {
    for (const actor of this.bySession.values()) actor.abandon(code, 'gateway standing by');
    this.bySession.clear();
    this.byOpenid.clear();
  }

  /** Stop every actor (after shutdown). */
  dispose(): void {
    for (const actor of this.bySession.values()) actor.dispose();
    this.bySession.clear();
    this.byOpenid.clear();
  }

  /** A store of the session failed outside an append the actor waits for (log callback): stop it. */
  fail(sessionId: string, err: unknown): void {
    this.bySession.get(sessionId)?.fail(err);
  }

  kick(sessionId: string, reason = 'kicked'): boolean {
    const actor = this.bySession.get(sessionId);
    if (!actor) return false;
    actor.send({ type: 'KICK', reason });
    return true;
  }

  private resumable(actor: SessionActor, now: number): boolean {
    const s = actor.state;
    if (s.phase === 'closed') return false;
    if (s.attached) return true;
    return now - Math.max(s.detachedAt, actor.lastActivity) < this.opts.config.resumeWindowMs;
  }

  private spawn(sessionId: string, openid: string, restored?: SessionState): SessionActor {
    const { logger, onLifecycle, onSessionFailed, ...deps } = this.opts;
    const actor = new SessionActor(
      sessionId,
      openid,
      {
        ...deps,
        observe: onLifecycle ? (a, effect) => this.observe(a, effect) : deps.observe,
        onEnded: (a, reason) => this.forget(a, reason),
        onFailed: (a, err) => {
          this.unindex(a);
          logger?.warn(
            { sessionId: a.sessionId, openid: a.openid, err },
            'session dropped: its state was not stored',
          );
          onSessionFailed?.(a.sessionId, a.openid, err);
        },
        onError: (a, err) => logger?.warn({ sessionId: a.sessionId, err }, 'session effect failed'),
      },
      restored,
    );
    this.bySession.set(sessionId, actor);
    this.byOpenid.set(openid, actor);
    return actor;
  }

  /** Login and detach facts -> lifecycle events (only when someone listens). */
  private observe(actor: SessionActor, output: SessionOutput): void {
    this.opts.observe?.(actor, output);
    const { sessionId, openid } = actor;
    if (output.type === 'logged_in') {
      this.opts.onLifecycle?.({ type: 'login', sessionId, openid, zone: output.zone });
    } else if (output.type === 'detached') {
      this.opts.onLifecycle?.({ type: 'detached', sessionId, openid });
    }
  }

  private unindex(actor: SessionActor): void {
    if (this.bySession.get(actor.sessionId) === actor) this.bySession.delete(actor.sessionId);
    if (this.byOpenid.get(actor.openid) === actor) this.byOpenid.delete(actor.openid);
  }

  private forget(actor: SessionActor, reason: string): void {
    this.unindex(actor);
    void this.opts.log.forget(actor.sessionId);
    this.opts.onLifecycle?.({ type: 'ended', sessionId: actor.sessionId, openid: actor.openid, reason });
    this.opts.logger?.info({ sessionId: actor.sessionId, openid: actor.openid, reason }, 'session ended');
  }
}
