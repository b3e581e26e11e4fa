/**
 * The session machine (XState v5): INITED -> NORMAL -> CLOSED, with the link
 * attached or detached, client seq rules, ordered reliable pushes, ACKs,
 * retransmission and notify binding. docs/protocol.md sections 3 and 4.
 *
 * Pure: the machine does no I/O and reads no clock. Time arrives in every event
 * (`now`); what must happen in the world leaves as emitted effects (send frames,
 * close a link, call an upstream, store events, answer a producer), which the
 * session actor carries out in order.
 *
 * Session data changes only through `applySessionEvent`, so the stored events
 * rebuild the same session. The data is mutated in place rather than copied per
 * event: the actor is its only writer and a copy per push would dominate the
 * hot path.
 */
import { enqueueActions, setup } from 'xstate';
import {
  CloseCode,
  ErrorCode,
  NotifySyncHint,
  type PushErrorCode as ProducerErrorCode,
} from '../protocol/codes.js';
import {
  answerErrorFrame,
  answerFrame,
  controlErrorFrame,
  FRAME_PREFIX_BYTES,
  heartbeatRespFrame,
  notifyFrame,
  notifyFrameBytes,
  startRespFrame,
} from '../protocol/frames.js';
import type { UpstreamRequest, UpstreamResponse } from '../protocol/messages.js';
import type { BoundNotify } from './notify-binder.js';
import {
  applySessionEvent,
  emptySessionState,
  pendingBytes,
  pushIdOf,
  type SessionEvent,
  type SessionState,
} from './session-state.js';

export interface SessionConfig {
  ackTimeoutMs: number;
  maxRetries: number;
  resumeWindowMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalSec: number;
  maxQueue: number;
  /** Byte budget of pending reliable pushes (server.max_queue_bytes). */
  maxQueueBytes: number;
  /**
   * Largest frame body a client accepts (server.max_frame_bytes): a push or an
   * answer whose frame would exceed it is never queued.
   */
  maxFrameBytes: number;
  /** How long an accepted push id makes a repeat a duplicate (server.push_dedup_window); 0 = off. */
  pushDedupWindowMs: number;
}

/** The producer-facing codes a session itself can answer (BAD_REQUEST is decided before it). */
export type PushErrorCode = Exclude<ProducerErrorCode, 'BAD_REQUEST'>;

/**
 * `duplicate`: a push id this session already accepted within its window; nothing
 * was queued again and `seq` is the seq the first push got (0 while it is held).
 */
export type PushResult =
  | { ok: true; seq: number; duplicate?: boolean }
  | { ok: false; errorCode: PushErrorCode; message: string };

export interface PushItem {
  /** Encoded NotifyMessage. */
  payload: Uint8Array;
  hint: NotifySyncHint;
  bindSeq: number;
  /** Producer's id of this push (e.g. its NATS message); a repeated id is not queued twice. */
  pushId?: string;
  reply?: (result: PushResult) => void;
}

export type SessionEffect =
  | { type: 'events'; events: SessionEvent[] }
  /**
   * `control`: only control frames (seq 0: heartbeat answers, protocol
   * errors), no stored event behind them, so they need not wait for an
   * earlier store (nothing reliable is reordered by sending them first).
   */
  | { type: 'send'; linkId: number; frames: Uint8Array[]; control?: boolean }
  | { type: 'close'; linkId: number; code: number; reason: string }
  | { type: 'upstream'; service: string; clientSeq: number; msgId: number; request: UpstreamRequest }
  /** Answers to the producers of one PUSH batch, in order. */
  | { type: 'replies'; replies: Array<[(result: PushResult) => void, PushResult]> }
  | { type: 'ended'; reason: string };

export type SessionMachineEvent =
  | {
      type: 'ATTACH';
      now: number;
      linkId: number;
      connectionId: string;
      msgId: number;
      lastAckedSeq: number;
      /** First link of a brand-new session (START_RESP resumed = false). */
      isNew: boolean;
    }
  | { type: 'DETACH'; now: number; linkId: number }
  | { type: 'HEARTBEAT'; now: number; linkId: number; msgId: number; clientTimestamp: number }
  | {
      type: 'BUSINESS';
      now: number;
      linkId: number;
      msgId: number;
      seq: number;
      action: string;
      params: Record<string, string>;
      data: Uint8Array;
      headers: Record<string, string>;
      /** False while the event log cannot store: a new request is refused with ERROR 503 (not accepted). */
      storeAvailable?: boolean;
    }
  | { type: 'ACK'; now: number; linkId: number; seq: number }
  | { type: 'STOP'; now: number; linkId: number }
  | { type: 'UPSTREAM_REPLY'; now: number; clientSeq: number; service: string; response: UpstreamResponse }
  | { type: 'UPSTREAM_FAILED'; now: number; clientSeq: number; code: number; message: string; detail: string }
  /** Pushes that reached the actor in one turn, in arrival order (one machine step for all). */
  | { type: 'PUSH'; now: number; items: readonly PushItem[] }
  | { type: 'TICK'; now: number }
  | { type: 'SHUTDOWN'; now: number }
  | { type: 'KICK'; now: number; reason: string };

export interface SessionInput {
  sessionId: string;
  openid: string;
  now: number;
  config: SessionConfig;
  /** Action -> upstream service name (the routing table). */
  route: (action: string) => string;
  /** Service that logs users in (answers may carry the zone). */
  helloService?: string;
  /** A state rebuilt from stored events (backup, failover); otherwise a new session. */
  restored?: SessionState;
}

export interface SessionContext {
  s: SessionState;
  config: SessionConfig;
  route: (action: string) => string;
  helloService: string;
  /** Current link, 0 when detached. Frames from other links are ignored. */
  linkId: number;
  /** Last frame from the client (session_timeout). */
  lastActivity: number;
}

/** Collects what one event changes, then emits it in a safe order. */
class Outbox {
  readonly events: SessionEvent[] = [];
  readonly frames: Uint8Array[] = [];
  readonly after: SessionEffect[] = [];
  constructor(readonly ctx: SessionContext) {}

  record(e: SessionEvent): void {
    applySessionEvent(this.ctx.s, e);
    this.events.push(e);
  }
  /** Queue a reliable frame; `pid` remembers a producer's push id with its window. */
  pushFrame(
    build: (seq: number) => Uint8Array,
    answers = 0,
    pid?: { pid: string; at: number; until: number },
  ): void {
    const seq = this.ctx.s.queue.nextSeq;
    this.record(
      pid === undefined
        ? { v: 1, type: 'pushed', seq, frame: build(seq), answers }
        : { v: 1, type: 'pushed', seq, frame: build(seq), answers, ...pid },
    );
  }
  /** Queue a held notify being released (its push id, if still remembered, learns the seq). */
  releaseNotify(n: BoundNotify, now: number): void {
    const known = n.pid === undefined ? undefined : pushIdOf(this.ctx.s, n.pid, now);
    this.pushFrame(
      (seq) => notifyFrame(seq, n.payload),
      0,
      known && n.pid !== undefined ? { pid: n.pid, at: known.at, until: known.until } : undefined,
    );
  }
  control(frame: Uint8Array): void {
    this.frames.push(frame);
  }
}

type Enqueue = { emit: (e: SessionEffect) => void };

/** Events are stored first, then frames leave (in seq order), then the rest. */
function flush(out: Outbox, enqueue: Enqueue, now: number): void {
  const { ctx } = out;
  if (out.events.length > 0) enqueue.emit({ type: 'events', events: out.events });
  if (ctx.s.attached && ctx.linkId !== 0) {
    const controlFrames = out.frames.length;
    for (const e of ctx.s.queue.takeUnsent(now)) out.frames.push(e.frame);
    if (out.frames.length > 0) {
      // Nothing stored and nothing reliable: these frames need not wait for an earlier store.
      const control = out.events.length === 0 && out.frames.length === controlFrames;
      enqueue.emit(
        control
          ? { type: 'send', linkId: ctx.linkId, frames: out.frames, control: true }
          : { type: 'send', linkId: ctx.linkId, frames: out.frames },
      );
    }
  }
  for (const effect of out.after) enqueue.emit(effect);
}

/** Room for one more reliable push: queued + unacked + held + answers owed. */
function room(s: SessionState, maxQueue: number): number {
  return maxQueue - s.queue.size - s.binder.count - s.inflight.size;
}

/** No room for a new request or push: max_queue reached, or max_queue_bytes used up. */
function queueFull(s: SessionState, config: SessionConfig): boolean {
  return room(s, config.maxQueue) <= 0 || pendingBytes(s) >= config.maxQueueBytes;
}

function parseZone(headers: Record<string, string> | undefined): number | null {
  const raw = headers?.zone;
  if (raw === undefined || !/^-?\d+$/.test(raw)) return null;
  const zone = Number(raw);
  return Number.isSafeInteger(zone) ? zone : null;
}

type Ev<T extends SessionMachineEvent['type']> = Extract<SessionMachineEvent, { type: T }>;

export function nextDeadline(ctx: SessionContext): number | null {
  const { s, config } = ctx;
  if (s.phase === 'closed') return null;
  let at = ctx.lastActivity + config.sessionTimeoutMs;
  if (!s.attached) at = Math.min(at, s.detachedAt + config.resumeWindowMs);
  else {
    const ack = s.queue.nextDeadline(config.ackTimeoutMs);
    if (ack !== null) at = Math.min(at, ack);
  }
  return at;
}

/** Detach from the current link and close it; the session stays for a resume. */
function dropLink(
  context: SessionContext,
  enqueue: Enqueue,
  now: number,
  code: number,
  reason: string,
): void {
  const linkId = context.linkId;
  const out = new Outbox(context);
  out.record({ v: 1, type: 'detached', at: now });
  context.linkId = 0;
  out.after.push({ type: 'close', linkId, code, reason });
  flush(out, enqueue, now);
}

/**
 * One producer push. A push id accepted within its window is answered as that
 * acceptance (nothing queued again); a NOTIFY frame over max_frame_bytes is
 * PAYLOAD_TOO_LARGE; a push beyond max_queue or max_queue_bytes is QUEUE_FULL;
 * a push bound to an in-flight request is held. A refusal remembers nothing,
 * so the same push id may be retried.
 */
function acceptOne(
  out: Outbox,
  s: SessionState,
  config: SessionConfig,
  item: PushItem,
  now: number,
): PushResult {
  const pushId = item.pushId === '' ? undefined : item.pushId;
  if (pushId !== undefined) {
    const first = pushIdOf(s, pushId, now);
    if (first) return { ok: true, seq: first.seq, duplicate: true };
  }
  const frameBytes = notifyFrameBytes(item.payload.length);
  if (frameBytes - FRAME_PREFIX_BYTES > config.maxFrameBytes) {
    return {
      ok: false,
      errorCode: 'PAYLOAD_TOO_LARGE',
      message: `NOTIFY frame of ${frameBytes - FRAME_PREFIX_BYTES} bytes exceeds max_frame_bytes ${config.maxFrameBytes}`,
    };
  }
  if (room(s, config.maxQueue) <= 0) {
    return {
      ok: false,
      errorCode: 'QUEUE_FULL',
      message: `session ${s.sessionId} has ${config.maxQueue} pushes pending`,
    };
  }
  const used = pendingBytes(s);
  if (used + frameBytes > config.maxQueueBytes) {
    return {
      ok: false,
      errorCode: 'QUEUE_FULL',
      message: `session ${s.sessionId} has ${used} bytes pending; ${frameBytes} more exceed max_queue_bytes ${config.maxQueueBytes}`,
    };
  }
  const pid =
    pushId !== undefined && config.pushDedupWindowMs > 0
      ? { pid: pushId, at: now, until: now + config.pushDedupWindowMs }
      : undefined;
  if (item.hint !== NotifySyncHint.IMMEDIATELY && item.bindSeq > 0 && s.inflight.has(item.bindSeq)) {
    out.record({
      v: 1,
      type: 'held',
      clientSeq: item.bindSeq,
      hint: item.hint,
      payload: item.payload,
      ...pid,
    });
    return { ok: true, seq: 0 };
  }
  out.pushFrame((n) => notifyFrame(n, item.payload), 0, pid);
  return { ok: true, seq: s.queue.lastSeq };
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionMachineEvent,
    input: {} as SessionInput,
    emitted: {} as SessionEffect,
  },
  guards: {
    fromCurrentLink: ({ context, event }) =>
      'linkId' in event && event.linkId === context.linkId && context.linkId !== 0,
    isLoggedIn: ({ context }) => context.s.phase === 'normal',
    detachedTooLong: ({ context, event }) =>
      !context.s.attached && event.now - context.s.detachedAt >= context.config.resumeWindowMs,
    idleTooLong: ({ context, event }) => event.now - context.lastActivity >= context.config.sessionTimeoutMs,
    retriesExhausted: ({ context, event }) =>
      context.s.attached &&
      context.s.queue.exhausted(event.now, context.config.ackTimeoutMs, context.config.maxRetries),
  },
  actions: {
    attachLink: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Ev<'ATTACH'>;
      const out = new Outbox(context);
      const { s } = context;
      let kind: 'new' | 'resume' | 'takeover' = e.isNew ? 'new' : 'resume';
      if (s.attached && context.linkId !== 0 && context.linkId !== e.linkId) {
        kind = 'takeover';
        out.after.push({
          type: 'close',
          linkId: context.linkId,
          code: CloseCode.SESSION_TAKEN_OVER,
          reason: 'session taken over',
        });
      }
      out.record({ v: 1, type: 'attached', at: e.now, kind });
      // Clamped to the highest seq sent: pushes queued while detached are never dropped by it.
      const acked = s.queue.clampAck(e.lastAckedSeq);
      if (acked > s.queue.lastAcked) out.record({ v: 1, type: 'acked', seq: acked });
      context.linkId = e.linkId;
      context.lastActivity = e.now;
      out.control(
        startRespFrame(e.msgId, {
          success: true,
          heartbeatInterval: context.config.heartbeatIntervalSec,
          connectionId: e.connectionId,
          sessionId: s.sessionId,
          resumed: kind !== 'new',
          lastClientSeq: s.lastClientSeq,
          zone: s.zone,
        }),
      );
      flush(out, enqueue, e.now);
    }),
    detachLink: enqueueActions(({ context, event, enqueue }) => {
      const out = new Outbox(context);
      out.record({ v: 1, type: 'detached', at: event.now });
      context.linkId = 0;
      flush(out, enqueue, event.now);
    }),
    answerHeartbeat: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Ev<'HEARTBEAT'>;
      context.lastActivity = e.now;
      enqueue.emit({
        type: 'send',
        linkId: context.linkId,
        frames: [heartbeatRespFrame(e.msgId, e.clientTimestamp, e.now)],
        control: true,
      });
    }),
    handleBusiness: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Ev<'BUSINESS'>;
      const { s, config } = context;
      const out = new Outbox(context);
      context.lastActivity = e.now;
      const seq = e.seq;
      if (!Number.isSafeInteger(seq) || seq <= 0) {
        out.control(
          controlErrorFrame(e.msgId, ErrorCode.BAD_REQUEST, 'BUSINESS seq_id must be > 0', `seq_id=${seq}`),
        );
      } else if (seq <= s.lastClientSeq) {
        // A duplicate is never forwarded twice; its answer, if still unacknowledged, reaches the client anyway.
        if (!s.inflight.has(seq) && !s.answered.has(seq)) {
          if (!queueFull(s, config)) {
            out.pushFrame((n) =>
              answerErrorFrame(
                n,
                e.msgId,
                seq,
                ErrorCode.DUPLICATE_REQUEST,
                'duplicate request',
                `seq_id=${seq} already answered`,
              ),
            );
          } else {
            out.control(controlErrorFrame(e.msgId, ErrorCode.QUEUE_FULL, 'session queue full'));
          }
        }
      } else if (e.storeAvailable === false) {
        // Not accepted (nothing stored, seq not consumed): the client may send the same seq again.
        out.control(
          controlErrorFrame(
            e.msgId,
            ErrorCode.UPSTREAM_UNAVAILABLE,
            'event log unavailable',
            'the gateway cannot store session state right now; retry',
          ),
        );
      } else if (queueFull(s, config)) {
        // Not accepted: the client may send the same seq again once it has acknowledged pushes.
        out.control(
          controlErrorFrame(
            e.msgId,
            ErrorCode.QUEUE_FULL,
            'session queue full',
            `max_queue=${config.maxQueue} max_queue_bytes=${config.maxQueueBytes}`,
          ),
        );
      } else {
        const service = context.route(e.action);
        out.record({ v: 1, type: 'request_accepted', clientSeq: seq, msgId: e.msgId, at: e.now });
        if (s.phase !== 'normal' && service !== context.helloService) {
          out.pushFrame(
            (n) =>
              answerErrorFrame(
                n,
                e.msgId,
                seq,
                ErrorCode.NOT_LOGGED_IN,
                'not logged in',
                `action ${e.action} needs login`,
              ),
            seq,
          );
          out.record({ v: 1, type: 'request_done', clientSeq: seq });
        } else {
          out.after.push({
            type: 'upstream',
            service,
            clientSeq: seq,
            msgId: e.msgId,
            request: {
              sessionId: s.sessionId,
              openid: s.openid,
              action: e.action,
              params: e.params,
              data: e.data,
              headers: { ...e.headers, zone: String(s.zone) },
              clientSeqId: seq,
            },
          });
        }
      }
      flush(out, enqueue, e.now);
    }),
    answerFromUpstream: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Ev<'UPSTREAM_REPLY'>;
      const { s, config } = context;
      const req = s.inflight.get(e.clientSeq);
      if (!req) return;
      const out = new Outbox(context);
      const release = s.binder.releaseAroundAnswer(e.clientSeq);
      for (const n of release.before) out.releaseNotify(n, e.now);
      const r = e.response;
      let tooLarge = false;
      out.pushFrame((n) => {
        const frame = answerFrame(n, req.msgId, e.clientSeq, r.code, r.message, r.data, r.headers);
        const body = frame.length - FRAME_PREFIX_BYTES;
        if (body <= config.maxFrameBytes) return frame;
        // The client would have to refuse it: an error it can take instead, same seq rules.
        tooLarge = true;
        return answerErrorFrame(
          n,
          req.msgId,
          e.clientSeq,
          ErrorCode.UPSTREAM_ERROR,
          'upstream answer too large',
          `BUSINESS_DATA frame of ${body} bytes exceeds max_frame_bytes ${config.maxFrameBytes}`,
        );
      }, e.clientSeq);
      for (const n of release.after) out.releaseNotify(n, e.now);
      out.record({ v: 1, type: 'request_done', clientSeq: e.clientSeq });
      if (e.service === context.helloService && r.code === 0 && !tooLarge) {
        const zone = parseZone(r.headers);
        if (zone !== null) out.record({ v: 1, type: 'logged_in', zone, at: e.now });
      }
      flush(out, enqueue, e.now);
    }),
    answerUpstreamFailure: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Ev<'UPSTREAM_FAILED'>;
      const { s } = context;
      const req = s.inflight.get(e.clientSeq);
      if (!req) return;
      const out = new Outbox(context);
      for (const n of s.binder.releaseInOrder(e.clientSeq)) out.releaseNotify(n, e.now);
      out.pushFrame(
        (n) => answerErrorFrame(n, req.msgId, e.clientSeq, e.code, e.message, e.detail),
        e.clientSeq,
      );
      out.record({ v: 1, type: 'request_done', clientSeq: e.clientSeq });
      flush(out, enqueue, e.now);
    }),
    acceptPush: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Ev<'PUSH'>;
      const { s, config } = context;
      const out = new Outbox(context);
      const replies: Array<[(result: PushResult) => void, PushResult]> = [];
      for (const item of e.items) {
        const result = acceptOne(out, s, config, item, e.now);
        if (item.reply) replies.push([item.reply, result]);
      }
      if (replies.length > 0) out.after.push({ type: 'replies', replies });
      flush(out, enqueue, e.now);
    }),
    acknowledge: enqueueActions(({ context, event, enqueue }) => {
      const e = event as Ev<'ACK'>;
      context.lastActivity = e.now;
      const seq = context.s.queue.clampAck(e.seq);
      if (seq <= context.s.queue.lastAcked) return;
      const out = new Outbox(context);
      out.record({ v: 1, type: 'acked', seq });
      flush(out, enqueue, e.now);
    }),
    retransmit: enqueueActions(({ context, event, enqueue }) => {
      const { s, config } = context;
      if (!s.attached || context.linkId === 0) return;
      const plan = s.queue.retransmit(event.now, config.ackTimeoutMs, config.maxRetries);
      if (plan.resend.length > 0) {
        enqueue.emit({ type: 'send', linkId: context.linkId, frames: plan.resend.map((q) => q.frame) });
      }
    }),
    // The link is dead, not the messages: everything stays queued for a resume.
    closeDeadLink: enqueueActions(({ context, event, enqueue }) => {
      dropLink(context, enqueue, event.now, CloseCode.ACK_TIMEOUT, 'ack timeout');
    }),
    closeLinkForShutdown: enqueueActions(({ context, event, enqueue }) => {
      if (!context.s.attached || context.linkId === 0) return;
      dropLink(context, enqueue, event.now, CloseCode.SERVER_SHUTDOWN, 'server shutdown');
    }),
    endSession: enqueueActions(({ context, event, enqueue }) => {
      const reason =
        event.type === 'STOP'
          ? 'stop'
          : event.type === 'KICK'
            ? event.reason
            : context.s.attached
              ? 'session_timeout'
              : 'resume_window_expired';
      const linkId = context.linkId;
      const out = new Outbox(context);
      out.record({ v: 1, type: 'closed', at: event.now, reason });
      context.linkId = 0;
      if (linkId !== 0) out.after.push({ type: 'close', linkId, code: CloseCode.NO_ERROR, reason });
      out.after.push({ type: 'ended', reason });
      flush(out, enqueue, event.now);
    }),
  },
}).createMachine({
  id: 'session',
  context: ({ input }) => {
    let s = input.restored;
    if (!s) {
      s = emptySessionState(input.config.maxQueue);
      applySessionEvent(s, {
        v: 1,
        type: 'started',
        sessionId: input.sessionId,
        openid: input.openid,
        at: input.now,
      });
    }
    return {
      s,
      config: input.config,
      route: input.route,
      helloService: input.helloService ?? 'hello',
      linkId: 0,
      lastActivity: input.now,
    };
  },
  initial: 'active',
  states: {
    active: {
      type: 'parallel',
      on: {
        STOP: { guard: 'fromCurrentLink', target: 'closed', actions: 'endSession' },
        KICK: { target: 'closed', actions: 'endSession' },
        HEARTBEAT: { guard: 'fromCurrentLink', actions: 'answerHeartbeat' },
        BUSINESS: { guard: 'fromCurrentLink', actions: 'handleBusiness' },
        ACK: { guard: 'fromCurrentLink', actions: 'acknowledge' },
        UPSTREAM_REPLY: { actions: 'answerFromUpstream' },
        UPSTREAM_FAILED: { actions: 'answerUpstreamFailure' },
        PUSH: { actions: 'acceptPush' },
        TICK: [
          { guard: 'detachedTooLong', target: 'closed', actions: 'endSession' },
          { guard: 'idleTooLong', target: 'closed', actions: 'endSession' },
          { guard: 'retriesExhausted', target: '#session.active.link.detached', actions: 'closeDeadLink' },
          { actions: 'retransmit' },
        ],
      },
      states: {
        phase: {
          initial: 'inited',
          states: {
            inited: { always: { guard: 'isLoggedIn', target: 'normal' } },
            normal: {},
          },
        },
        link: {
          initial: 'detached',
          states: {
            detached: {
              on: { ATTACH: { target: 'attached', actions: 'attachLink' } },
            },
            attached: {
              // A START on another connection takes the session over.
              on: {
                ATTACH: { target: 'attached', reenter: true, actions: 'attachLink' },
                DETACH: { guard: 'fromCurrentLink', target: 'detached', actions: 'detachLink' },
                SHUTDOWN: { target: 'detached', actions: 'closeLinkForShutdown' },
              },
            },
          },
        },
      },
    },
    closed: { type: 'final' },
  },
});

export type SessionMachine = typeof sessionMachine;
