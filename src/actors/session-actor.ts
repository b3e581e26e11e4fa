/**
 * One session = one XState actor running the session machine, plus the ports it
 * acts through. Transports and upstream adapters only send it events; it is the
 * only writer of its session. Effects run in the order the machine emitted them,
 * and nothing after a store of events runs before that store completes.
 */
import { performance } from 'node:perf_hooks';
import { type Actor, createActor, type InspectionEvent } from 'xstate';
import { GateError, isStoreError, messageOf } from '../errors.js';
import {
  isFact,
  nextDeadline,
  type PushItem,
  type PushResult,
  type SessionConfig,
  type SessionEffect,
  type SessionMachineEvent,
  type SessionOutput,
  sessionMachine,
} from '../machines/session-machine.js';
import { type SessionState, type SessionSummary, summarizeSession } from '../machines/session-state.js';
import { CloseCode, ErrorCode, type NotifySyncHint } from '../protocol/codes.js';
import { controlErrorFrame } from '../protocol/frames.js';
import type { UpstreamRequest } from '../protocol/messages.js';
import type { Clock, EventLog, SessionLink, Upstream } from './ports.js';

type Distribute<T> = T extends unknown ? Omit<T, 'now'> : never;
/** A machine event without its timestamp: the actor stamps it with its clock. */
export type SessionCommand = Distribute<SessionMachineEvent>;

export interface SessionActorDeps {
  config: SessionConfig;
  route: (action: string) => string;
  helloService?: string;
  upstream: Upstream;
  upstreamTimeoutMs: number;
  log: EventLog;
  clock: Clock;
  /** The session ended (STOP, expiry, kick): the owner forgets it. */
  onEnded: (actor: SessionActor, reason: string) => void;
  /** A persisted effect failed; the owner logs it. */
  onError?: (actor: SessionActor, err: unknown) => void;
  /**
   * A store of the session's events failed (fenced, timed out): the actor has
   * stopped, answered its waiting producers UNAVAILABLE and closed its link;
   * the owner forgets it here (the log, not this copy, is the truth now).
   */
  onFailed?: (actor: SessionActor, err: unknown) => void;
  /** Whether the event log can store right now (BUSINESS is refused with 503 otherwise). */
  storeAvailable?: () => boolean;
  /** Observes every effect and fact as the machine emits it (metrics, lifecycle); must not throw. */
  observe?: (actor: SessionActor, output: SessionOutput) => void;
  /** XState inspection (actor inspector); must not throw. */
  inspect?: (event: InspectionEvent) => void;
}

/**
 * Actors holding pushes for the end of this event-loop turn. Pushes are batched
 * per turn, not per microtask: the RPCs and broadcasts of one turn each run in
 * their own microtask checkpoint, so a microtask flush gave every session one
 * machine step per broadcast; one setImmediate for all actors gives it one
 * step for the turn (and its frames leave in one write).
 */
let turnQueue: SessionActor[] = [];
let turnScheduled = false;

function flushTurn(): void {
  turnScheduled = false;
  const actors = turnQueue;
  turnQueue = [];
  for (const actor of actors) actor.flushPending();
}

function atEndOfTurn(actor: SessionActor): void {
  turnQueue.push(actor);
  if (!turnScheduled) {
    turnScheduled = true;
    setImmediate(flushTurn);
  }
}

/** Placeholder for an events effect merged into an earlier append. */
const MERGED: SessionEffect = { type: 'events', events: [] };

export class SessionActor {
  readonly sessionId: string;
  readonly openid: string;
  private readonly actor: Actor<typeof sessionMachine>;
  /**
   * Links that may still get frames or a close: the current one, and one taken
   * over until its 0x11 close runs. A link leaves on DETACH (its connection is
   * gone), on the close the machine emits for it, and when the session ends.
   */
  private readonly links = new Map<number, SessionLink>();
  private blocked: Promise<void> | null = null;
  private backlog: SessionEffect[] = [];
  private timer: unknown = null;
  private armedAt = Number.POSITIVE_INFINITY;
  private ended = false;
  private failed = false;
  private pendingPushes: PushItem[] = [];
  /** Requests answered ERROR 503 while their store was slow: closed with a stored 503 once it is through. */
  private abandonedRequests: number[] = [];

  constructor(
    sessionId: string,
    openid: string,
    private readonly deps: SessionActorDeps,
    restored?: SessionState,
  ) {
    this.sessionId = sessionId;
    this.openid = openid;
    const now = deps.clock.now();
    this.actor = createActor(sessionMachine, {
      id: sessionId,
      input: {
        sessionId,
        openid,
        now,
        config: deps.config,
        route: deps.route,
        helloService: deps.helloService,
        restored,
      },
      ...(deps.inspect ? { inspect: deps.inspect } : {}),
    });
    this.actor.on('*', (output) => this.onOutput(output));
    // The machine folds 'started' into its initial context; the log must hold it too,
    // first, so that the stored events alone rebuild the session.
    if (!restored)
      this.run({ type: 'events', events: [{ v: 1, type: 'started', sessionId, openid, at: now }] });
    this.actor.start();
  }

  /** Read-only view for registries, admin and metrics. */
  get state(): SessionState {
    return this.actor.getSnapshot().context.s;
  }
  get linkId(): number {
    return this.actor.getSnapshot().context.linkId;
  }
  get lastActivity(): number {
    return this.actor.getSnapshot().context.lastActivity;
  }
  get isEnded(): boolean {
    return this.ended;
  }
  /** Stopped because a store failed (see `fail`). */
  get isFailed(): boolean {
    return this.failed;
  }
  /** The XState state value, e.g. { active: { phase: 'normal', link: 'attached' } }. */
  get stateValue(): unknown {
    return this.actor.getSnapshot().value;
  }
  summary(): SessionSummary & { machine: unknown; lastActivity: number } {
    return { ...summarizeSession(this.state), machine: this.stateValue, lastActivity: this.lastActivity };
  }
  /** Links held (read-only; at most the current one and one being closed). */
  get linkCount(): number {
    return this.links.size;
  }
  /** The underlying XState actor (inspection). */
  get xstate(): Actor<typeof sessionMachine> {
    return this.actor;
  }

  /** Bind a new connection (START, resume or takeover). */
  attach(link: SessionLink, msgId: number, lastAckedSeq: number, isNew: boolean): void {
    this.links.set(link.id, link);
    this.send({
      type: 'ATTACH',
      linkId: link.id,
      connectionId: link.connectionId,
      msgId,
      lastAckedSeq,
      isNew,
    });
  }

  /**
   * Deliver a notify; resolves once it is accepted (stored) or refused. Pushes
   * that reach the actor in one event-loop turn (across RPCs and broadcasts) go
   * to the machine as one PUSH batch at the turn's end; any other event flushes
   * them first, so arrival order is kept.
   */
  push(payload: Uint8Array, hint: NotifySyncHint, bindSeq: number, pushId?: string): Promise<PushResult> {
    if (this.ended) return Promise.resolve(this.closedResult());
    return new Promise((reply) => this.offer({ payload, hint, bindSeq, pushId, reply }));
  }

  /**
   * `push` without a promise: `item.reply` gets the outcome (at once when the
   * session is closed). A broadcast offers one shared, read-only item to every
   * session and counts the replies, instead of a promise per session.
   */
  offer(item: PushItem): void {
    if (this.ended) {
      item.reply?.(this.closedResult());
      return;
    }
    if (this.pendingPushes.length === 0) atEndOfTurn(this);
    this.pendingPushes.push(item);
  }

  private closedResult(): PushResult {
    return { ok: false, errorCode: 'SESSION_NOT_FOUND', message: `session ${this.sessionId} closed` };
  }

  /** Runs the pushes held for this turn as one PUSH step (the turn's end, or before any other event). */
  flushPending(): void {
    if (this.pendingPushes.length === 0) return;
    const items = this.pendingPushes;
    this.pendingPushes = [];
    if (this.ended) {
      for (const item of items) item.reply?.(this.closedResult());
      return;
    }
    this.dispatch({ type: 'PUSH', items });
  }

  send(command: SessionCommand): void {
    if (this.pendingPushes.length > 0) this.flushPending();
    this.dispatch(command);
    // The transport sends DETACH once the connection is closed: nothing more can go to it.
    if (command.type === 'DETACH') this.links.delete(command.linkId);
  }

  private dispatch(command: SessionCommand): void {
    if (this.ended) return;
    const now = this.deps.clock.now();
    if (command.type === 'BUSINESS' && this.deps.storeAvailable) {
      this.actor.send({ ...command, now, storeAvailable: this.deps.storeAvailable() });
    } else this.actor.send({ ...command, now } as SessionMachineEvent);
    this.rearm();
  }

  /**
   * A store failed: whatever followed it is dropped (no frame leaves, no
   * upstream call starts), producers waiting for it are answered UNAVAILABLE,
   * requests it accepted get ERROR 503, and the link is closed with 0x12 so
   * the client resumes (on a gateway that rebuilds the session from the log).
   */
  fail(err: unknown): void {
    if (this.failed) return;
    const wasEnded = this.ended;
    this.stop(CloseCode.SERVER_SHUTDOWN, 'session state not stored', true);
    if (!wasEnded) this.deps.onFailed?.(this, err);
  }

  /**
   * Stop for good without storing anything more: everyone waiting is answered
   * (see `answerWaiting`), pushes not yet dispatched are refused, the rest of the
   * backlog is dropped, and each link is closed with `code` (after the ERROR 503
   * frames of its waiting requests when `answerRequests`).
   */
  private stop(code: number, reason: string, answerRequests = false): void {
    this.failed = true;
    const message = '503 event log unavailable: push not stored';
    const { frames } = this.answerWaiting(message);
    const pending = this.pendingPushes;
    this.pendingPushes = [];
    for (const item of pending) item.reply?.({ ok: false, errorCode: 'UNAVAILABLE', message });
    this.backlog = [];
    this.blocked = null;
    const links = [...this.links.values()];
    this.links.clear();
    this.dispose();
    for (const link of links) {
      if (answerRequests && frames.length > 0) link.send(frames);
      link.close(code, reason);
    }
  }

  /**
   * Answers now everyone waiting behind a store: producers get UNAVAILABLE
   * (never "accepted"), and client requests waiting to be forwarded upstream
   * are turned into ERROR 503 frames (returned, with their client seqs). Those
   * effects leave the backlog.
   */
  private answerWaiting(message: string): { frames: Uint8Array[]; requests: number[] } {
    const refused: PushResult = { ok: false, errorCode: 'UNAVAILABLE', message };
    const frames: Uint8Array[] = [];
    const requests: number[] = [];
    this.backlog = this.backlog.filter((effect) => {
      if (effect.type === 'replies') {
        for (const [reply, result] of effect.replies) reply(result.ok ? refused : result);
        return false;
      }
      if (effect.type === 'upstream') {
        frames.push(
          controlErrorFrame(
            effect.msgId,
            ErrorCode.UPSTREAM_UNAVAILABLE,
            'event log unavailable',
            'retry the request',
          ),
        );
        requests.push(effect.clientSeq);
        return false;
      }
      return true;
    });
    return { frames, requests };
  }

  /**
   * Hand the session to another gateway: wait until every pending store is
   * durable, stop the actor without ending the session (the log keeps it), then
   * close its links with `code` (SESSION_TAKEN_OVER). Nothing is stored after.
   */
  async handOff(code: number, reason: string): Promise<void> {
    while (this.blocked) await this.blocked;
    this.abandon(code, reason);
  }

  /**
   * Stop at once, storing nothing more, and close the links with `code` (this
   * gateway stands by). Producers still waiting are answered UNAVAILABLE.
   */
  abandon(code: number, reason: string): void {
    this.stop(code, reason);
  }

  /** Stop without closing the session (process shutdown; the log keeps it). */
  dispose(): void {
    this.ended = true;
    this.clearTimer();
    this.actor.stop();
  }

  private onOutput(effect: SessionOutput): void {
    this.deps.observe?.(this, effect);
    if (isFact(effect)) return;
    if (this.blocked && !(effect.type === 'send' && effect.control)) this.backlog.push(effect);
    else this.run(effect);
  }

  private run(effect: SessionEffect): void {
    switch (effect.type) {
      case 'events': {
        const stored = this.deps.log.append(this.sessionId, effect.events);
        if (stored) {
          this.waitFor(stored);
        }
        return;
      }
      case 'send':
        this.links.get(effect.linkId)?.send(effect.frames);
        return;
      case 'close': {
        const link = this.links.get(effect.linkId);
        this.links.delete(effect.linkId);
        link?.close(effect.code, effect.reason);
        return;
      }
      case 'upstream':
        this.callUpstream(effect.service, effect.clientSeq, effect.request);
        return;
      case 'replies':
        for (const [reply, result] of effect.replies) reply(result);
        return;
      case 'ended':
        this.ended = true;
        this.clearTimer();
        this.links.clear();
        this.deps.onEnded(this, effect.reason);
        return;
    }
  }

  /** Hold every later effect until `stored` settles. */
  private waitFor(stored: Promise<void>): void {
    const blocked: Promise<void> = stored.then(
      () => {
        if (this.blocked === blocked) this.unblock();
      },
      (err: unknown) => {
        if (this.failed || this.blocked !== blocked) return;
        if (isStoreError(err, 'STORE_TIMEOUT') && err.later) {
          this.answerWhileSlow();
          this.waitFor(err.later);
          return;
        }
        this.deps.onError?.(this, err);
        this.fail(err);
      },
    );
    this.blocked = blocked;
  }

  /**
   * A store is slow (the log is unreachable): nobody may wait on it for long.
   * Producers waiting are answered UNAVAILABLE now (the push may still be
   * stored and delivered later: a producer retrying with its push_id gets no
   * duplicate), and client requests waiting get ERROR 503 now; if the store
   * goes through after all, those requests are closed with a stored ERROR 503
   * instead of being forwarded late. Frames stay held until the store settles.
   */
  private answerWhileSlow(): void {
    const { frames, requests } = this.answerWaiting('503 event log unavailable: push not confirmed stored');
    for (const seq of requests) this.abandonedRequests.push(seq);
    if (frames.length > 0) this.links.get(this.linkId)?.send(frames);
  }

  /**
   * Runs what waited for a store. Every store still waiting is merged into one
   * append (a slow log then costs one round trip per burst, not per push): the
   * effects after each store still run only once it is durable.
   */
  private unblock(): void {
    this.blocked = null;
    const list = this.backlog;
    this.backlog = [];
    for (let i = 0; i < list.length; i++) {
      if (this.blocked || this.failed) {
        if (!this.failed) this.backlog.push(...list.slice(i));
        return;
      }
      const effect = list[i]!;
      if (effect === MERGED) continue; // stored with an earlier append
      if (effect.type === 'events') {
        let events = effect.events;
        for (let j = i + 1; j < list.length; j++) {
          const later = list[j]!;
          if (later.type !== 'events' || later === MERGED) continue;
          if (events === effect.events) events = events.slice();
          for (const e of later.events) events.push(e);
          list[j] = MERGED;
        }
        this.run(events === effect.events ? effect : { type: 'events', events });
      } else {
        this.run(effect);
      }
    }
    if (this.abandonedRequests.length > 0 && !this.blocked && !this.failed) {
      const seqs = this.abandonedRequests;
      this.abandonedRequests = [];
      for (const clientSeq of seqs) {
        this.send({
          type: 'UPSTREAM_FAILED',
          clientSeq,
          code: ErrorCode.UPSTREAM_UNAVAILABLE,
          message: 'event log unavailable',
          detail: 'the request was accepted while session state could not be stored; retry it',
        });
      }
    }
  }

  /** Calls upstream; the answer goes back to the machine with the call's duration (a fact for metrics). */
  private callUpstream(service: string, clientSeq: number, request: UpstreamRequest): void {
    const t0 = performance.now();
    this.deps.upstream.call(service, request, this.deps.upstreamTimeoutMs).then(
      (response) =>
        this.send({
          type: 'UPSTREAM_REPLY',
          clientSeq,
          service,
          response,
          elapsedMs: performance.now() - t0,
        }),
      (err: unknown) => {
        const e =
          err instanceof GateError
            ? err
            : new GateError(ErrorCode.UPSTREAM_ERROR, 'upstream error', messageOf(err), { cause: err });
        this.send({
          type: 'UPSTREAM_FAILED',
          clientSeq,
          code: e.code,
          message: e.message,
          detail: e.detail,
          service,
          elapsedMs: performance.now() - t0,
        });
      },
    );
  }

  /**
   * One timer per session for its earliest deadline. After an event the deadline
   * can only move earlier, so the machine's cheap bound (no queue scan) decides
   * whether to re-arm; the exact deadline is computed only when the timer fires.
   */
  private rearm(): void {
    if (this.ended) return;
    const at = nextDeadline(this.actor.getSnapshot().context, this.deps.clock.now());
    if (at !== null && at < this.armedAt) this.arm(at);
  }

  private arm(at: number): void {
    this.clearTimer();
    this.armedAt = at;
    this.timer = this.deps.clock.setTimer(at - this.deps.clock.now(), () => this.fire());
  }

  private fire(): void {
    this.timer = null;
    this.armedAt = Number.POSITIVE_INFINITY;
    this.send({ type: 'TICK' });
    if (this.ended) return;
    const at = nextDeadline(this.actor.getSnapshot().context);
    if (at !== null) this.arm(at);
  }

  private clearTimer(): void {
    if (this.timer !== null) this.deps.clock.clearTimer(this.timer);
    this.timer = null;
    this.armedAt = Number.POSITIVE_INFINITY;
  }
}
