/**
 * The session machine (XState v5): INITED -> NORMAL -> CLOSED, with the link
 * attached or detached, client seq rules, ordered reliable pushes, ACKs,
 * retransmission and notify binding. docs/protocol.md sections 3 and 4.
 *
 * Pure: the machine does no I/O and reads no clock. Time arrives in every event
 * (`now`); what must happen in the world leaves as emitted effects (send frames,
 * close a link, call an upstream, store events, answer a producer), which the
 * session actor carries out in order; what happened leaves as facts for
 * observers (session-types.ts). The statechart decides: every outcome of an
 * event is its own guarded transition.
 *
 * Session data changes only through `applySessionEvent`, so the stored events
 * rebuild the same session. The data is mutated in place rather than copied per
 * event: the actor is its only writer and a copy per push would dominate the
 * hot path.
 */
import { and, assertEvent, enqueueActions, not, setup, stateIn } from 'xstate';
import { CloseCode, ErrorCode, NotifySyncHint } from '../protocol/codes.js';
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
import type { BoundNotify } from './notify-binder.js';
import {
  applySessionEvent,
  emptySessionState,
  pendingBytes,
  pushIdOf,
  type SessionEvent,
  type SessionState,
} from './session-state.js';

import type {
  PushItem,
  PushResult,
  Refusal,
  SessionConfig,
  SessionContext,
  SessionEffect,
  SessionFact,
  SessionInput,
  SessionMachineEvent,
  SessionOutput,
} from './session-types.js';

export {
  isFact,
  type PushErrorCode,
  type PushItem,
  type PushResult,
  type Refusal,
  type SessionConfig,
  type SessionContext,
  type SessionEffect,
  type SessionFact,
  type SessionInput,
  type SessionMachineEvent,
  type SessionOutput,
} from './session-types.js';

/** Collects what one event changes, then emits it in a safe order. */
class Outbox {
  readonly events: SessionEvent[] = [];
  readonly facts: SessionFact[] = [];
  readonly frames: Uint8Array[] = [];
  readonly after: SessionEffect[] = [];
  constructor(
    readonly ctx: SessionContext,
    readonly now: number,
  ) {}

  record(e: SessionEvent): void {
    // Read before applying: an ACK releases the entries its round trip is measured on.
    const fact = factOf(this.ctx.s, e, this.now);
    applySessionEvent(this.ctx.s, e);
    this.events.push(e);
    if (fact) this.facts.push(fact);
  }
  fact(f: SessionFact): void {
    this.facts.push(f);
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
  releaseNotify(n: BoundNotify): void {
    const known = n.pid === undefined ? undefined : pushIdOf(this.ctx.s, n.pid, this.now);
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

/** The fact a stored event makes known (attach and detach facts name their link and are added by hand). */
function factOf(s: SessionState, e: SessionEvent, now: number): SessionFact | null {
  switch (e.type) {
    case 'pushed':
      return {
        type: 'accepted',
        seq: e.seq,
        kind: e.answers > 0 ? 'answer' : 'notify',
        clientSeq: e.answers,
      };
    case 'held':
      return { type: 'held', clientSeq: e.clientSeq };
    case 'acked': {
      const sentAt = s.queue.sentOnceAt(e.seq);
      return { type: 'acked', seq: e.seq, roundTripMs: sentAt === null ? null : now - sentAt };
    }
    case 'logged_in':
      return { type: 'logged_in', zone: e.zone };
    default:
      return null;
  }
}

type Enqueue = { emit: (e: SessionOutput) => void };

/** Events are stored first, then facts are told, then frames leave (in seq order), then the rest. */
function flush(out: Outbox, enqueue: Enqueue): void {
  const { ctx } = out;
  if (out.events.length > 0) enqueue.emit({ type: 'events', events: out.events });
  for (const fact of out.facts) enqueue.emit(fact);
  if (ctx.s.attached && ctx.linkId !== 0) {
    const seqs: number[] = out.frames.map(() => 0);
    for (const e of ctx.s.queue.takeUnsent(out.now)) {
      out.frames.push(e.frame);
      seqs.push(e.seq);
    }
    if (out.frames.length > 0) {
      const send = { type: 'send', linkId: ctx.linkId, frames: out.frames, seqs, retransmit: false } as const;
      // Nothing stored and nothing reliable: these frames need not wait for an earlier store.
      const control = out.events.length === 0 && seqs[seqs.length - 1] === 0;
      enqueue.emit(control ? { ...send, control: true } : send);
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

/**
 * When the session next needs a TICK (session_timeout, resume_window, ack_timeout),
 * or null once closed. With `sentBy`, the time of the event just handled, the
 * ack deadline is bounded by `sentBy + ack_timeout` instead of scanning the queue:
 * anything sent earlier was bounded when it was sent, so an owner that only
 * moves its timer earlier stays exact at the cost of an early TICK at most.
 */
export function nextDeadline(ctx: SessionContext, sentBy?: number): number | null {
  const { s, config } = ctx;
  if (s.phase === 'closed') return null;
  let at = ctx.lastActivity + config.sessionTimeoutMs;
  if (!s.attached) return Math.min(at, s.detachedAt + config.resumeWindowMs);
  if (sentBy !== undefined) {
    if (s.queue.size > 0) at = Math.min(at, sentBy + config.ackTimeoutMs);
    return at;
  }
  const ack = s.queue.nextDeadline(config.ackTimeoutMs);
  return ack === null ? at : Math.min(at, ack);
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
  const out = new Outbox(context, now);
  out.record({ v: 1, type: 'detached', at: now });
  out.fact({ type: 'detached', linkId });
  context.linkId = 0;
  out.after.push({ type: 'close', linkId, code, reason });
  flush(out, enqueue);
}

/**
 * One producer push. A push id accepted within its window is answered as that
 * acceptance (nothing queued again); a NOTIFY frame over max_frame_bytes is
 * PAYLOAD_TOO_LARGE; a push beyond max_queue or max_queue_bytes is QUEUE_FULL;
 * a push bound to an in-flight request is held. A refusal remembers nothing,
 * so the same push id may be retried.
 */
function acceptOne(out: Outbox, s: SessionState, config: SessionConfig, item: PushItem): PushResult {
  const now = out.now;
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

/** The end of a request: stored, its answer queued with the client's seq, done. */
function answerRequest(out: Outbox, clientSeq: number, build: (seq: number) => Uint8Array): void {
  out.pushFrame(build, clientSeq);
  out.record({ v: 1, type: 'request_done', clientSeq });
}

export const sessionMachine = setup({
  types: {
    context: {} as SessionContext,
    events: {} as SessionMachineEvent,
    input: {} as SessionInput,
    emitted: {} as SessionOutput,
  },
  guards: {
    fromCurrentLink: ({ context, event }) =>
      'linkId' in event && event.linkId === context.linkId && context.linkId !== 0,
    isLoggedIn: ({ context }) => context.s.phase === 'normal',
    detachedTooLong: ({ context, event }) =>
      !context.s.attached && event.now - context.s.detachedAt >= context.config.resumeWindowMs,
    idleTooLong: ({ context, event }) => event.now - context.lastActivity >= context.config.sessionTimeoutMs,
    retriesExhausted: ({ context, event }) =>
      context.s.queue.exhausted(event.now, context.config.ackTimeoutMs, context.config.maxRetries),
    /** BUSINESS seq_id must be a positive integer. */
    invalidSeq: ({ event }) => {
      assertEvent(event, 'BUSINESS');
      return !Number.isSafeInteger(event.seq) || event.seq <= 0;
    },
    /** A seq at or below the highest accepted one: a duplicate, never forwarded twice. */
    seenSeq: ({ context, event }) => {
      assertEvent(event, 'BUSINESS');
      return event.seq <= context.s.lastClientSeq;
    },
    /** The request of this seq is in flight or its answer unacknowledged: that answer reaches the client. */
    answerPending: ({ context, event }) => {
      assertEvent(event, 'BUSINESS');
      return context.s.inflight.has(event.seq) || context.s.answered.has(event.seq);
    },
    queueFull: ({ context }) => queueFull(context.s, context.config),
    storeUnavailable: ({ event }) => {
      assertEvent(event, 'BUSINESS');
      return event.storeAvailable === false;
    },
    /** The action's service is not the login service (only hello is served before login). */
    needsLogin: ({ context, event }) => {
      assertEvent(event, 'BUSINESS');
      return context.route(event.action) !== context.helloService;
    },
  },
  actions: {
    /** A frame from the client: session_timeout starts over. */
    touch: ({ context, event }) => {
      context.lastActivity = event.now;
    },
    attachLink: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'ATTACH');
      const out = new Outbox(context, event.now);
      const { s } = context;
      let kind: 'new' | 'resume' | 'takeover' = event.isNew ? 'new' : 'resume';
      if (s.attached && context.linkId !== 0 && context.linkId !== event.linkId) {
        kind = 'takeover';
        out.after.push({
          type: 'close',
          linkId: context.linkId,
          code: CloseCode.SESSION_TAKEN_OVER,
          reason: 'session taken over',
        });
      }
      out.record({ v: 1, type: 'attached', at: event.now, kind });
      out.fact({ type: 'attached', linkId: event.linkId, kind });
      // Clamped to the highest seq sent: pushes queued while detached are never dropped by it.
      const acked = s.queue.clampAck(event.lastAckedSeq);
      if (acked > s.queue.lastAcked) out.record({ v: 1, type: 'acked', seq: acked });
      context.linkId = event.linkId;
      context.lastActivity = event.now;
      out.control(
        startRespFrame(event.msgId, {
          success: true,
          heartbeatInterval: context.config.heartbeatIntervalSec,
          connectionId: event.connectionId,
          sessionId: s.sessionId,
          resumed: kind !== 'new',
          lastClientSeq: s.lastClientSeq,
          zone: s.zone,
        }),
      );
      flush(out, enqueue);
    }),
    detachLink: enqueueActions(({ context, event, enqueue }) => {
      const out = new Outbox(context, event.now);
      out.record({ v: 1, type: 'detached', at: event.now });
      out.fact({ type: 'detached', linkId: context.linkId });
      context.linkId = 0;
      flush(out, enqueue);
    }),
    answerHeartbeat: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'HEARTBEAT');
      enqueue.emit({
        type: 'send',
        linkId: context.linkId,
        frames: [heartbeatRespFrame(event.msgId, event.clientTimestamp, event.now)],
        seqs: [0],
        retransmit: false,
        control: true,
      });
    }),
    /** Refuse a BUSINESS request with a control ERROR frame (nothing accepted or stored). */
    refuseRequest: enqueueActions(({ context, event, enqueue }, refusal: Refusal) => {
      assertEvent(event, 'BUSINESS');
      const out = new Outbox(context, event.now);
      out.control(controlErrorFrame(event.msgId, refusal.code, refusal.message, refusal.detail));
      flush(out, enqueue);
    }),
    /** Nothing to answer (a duplicate whose answer is on its way): only what is unsent leaves. */
    sendUnsent: enqueueActions(({ context, event, enqueue }) => {
      flush(new Outbox(context, event.now), enqueue);
    }),
    answerDuplicate: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'BUSINESS');
      const { msgId, seq } = event;
      const out = new Outbox(context, event.now);
      out.pushFrame((n) =>
        answerErrorFrame(
          n,
          msgId,
          seq,
          ErrorCode.DUPLICATE_REQUEST,
          'duplicate request',
          `seq_id=${seq} already answered`,
        ),
      );
      flush(out, enqueue);
    }),
    refuseNotLoggedIn: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'BUSINESS');
      const { msgId, seq, action } = event;
      const out = new Outbox(context, event.now);
      out.record({ v: 1, type: 'request_accepted', clientSeq: seq, msgId, at: event.now });
      answerRequest(out, seq, (n) =>
        answerErrorFrame(
          n,
          msgId,
          seq,
          ErrorCode.NOT_LOGGED_IN,
          'not logged in',
          `action ${action} needs login`,
        ),
      );
      flush(out, enqueue);
    }),
    forwardUpstream: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'BUSINESS');
      const { s } = context;
      const out = new Outbox(context, event.now);
      out.record({ v: 1, type: 'request_accepted', clientSeq: event.seq, msgId: event.msgId, at: event.now });
      out.after.push({
        type: 'upstream',
        service: context.route(event.action),
        clientSeq: event.seq,
        msgId: event.msgId,
        request: {
          sessionId: s.sessionId,
          openid: s.openid,
          action: event.action,
          params: event.params,
          data: event.data,
          headers: { ...event.headers, zone: String(s.zone) },
          clientSeqId: event.seq,
        },
      });
      flush(out, enqueue);
    }),
    answerFromUpstream: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'UPSTREAM_REPLY');
      const { s, config } = context;
      const { clientSeq, response: r } = event;
      const req = s.inflight.get(clientSeq);
      if (!req) return;
      const out = new Outbox(context, event.now);
      const release = s.binder.releaseAroundAnswer(clientSeq);
      for (const n of release.before) out.releaseNotify(n);
      let tooLarge = false;
      out.pushFrame((n) => {
        const frame = answerFrame(n, req.msgId, clientSeq, r.code, r.message, r.data, r.headers);
        const body = frame.length - FRAME_PREFIX_BYTES;
        if (body <= config.maxFrameBytes) return frame;
        // The client would have to refuse it: an error it can take instead, same seq rules.
        tooLarge = true;
        return answerErrorFrame(
          n,
          req.msgId,
          clientSeq,
          ErrorCode.UPSTREAM_ERROR,
          'upstream answer too large',
          `BUSINESS_DATA frame of ${body} bytes exceeds max_frame_bytes ${config.maxFrameBytes}`,
        );
      }, clientSeq);
      for (const n of release.after) out.releaseNotify(n);
      out.record({ v: 1, type: 'request_done', clientSeq });
      out.fact({ type: 'answered', clientSeq, service: event.service, elapsedMs: event.elapsedMs });
      if (event.service === context.helloService && r.code === 0 && !tooLarge) {
        const zone = parseZone(r.headers);
        if (zone !== null) out.record({ v: 1, type: 'logged_in', zone, at: event.now });
      }
      flush(out, enqueue);
    }),
    answerUpstreamFailure: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'UPSTREAM_FAILED');
      const { s } = context;
      const { clientSeq } = event;
      const req = s.inflight.get(clientSeq);
      if (!req) return;
      const out = new Outbox(context, event.now);
      for (const n of s.binder.releaseInOrder(clientSeq)) out.releaseNotify(n);
      answerRequest(out, clientSeq, (n) =>
        answerErrorFrame(n, req.msgId, clientSeq, event.code, event.message, event.detail),
      );
      out.fact({ type: 'answered', clientSeq, service: event.service, elapsedMs: event.elapsedMs });
      flush(out, enqueue);
    }),
    acceptPush: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'PUSH');
      const { s, config } = context;
      const out = new Outbox(context, event.now);
      const replies: Array<[(result: PushResult) => void, PushResult]> = [];
      for (const item of event.items) {
        const result = acceptOne(out, s, config, item);
        if (item.reply) replies.push([item.reply, result]);
      }
      if (replies.length > 0) out.after.push({ type: 'replies', replies });
      flush(out, enqueue);
    }),
    acknowledge: enqueueActions(({ context, event, enqueue }) => {
      assertEvent(event, 'ACK');
      const seq = context.s.queue.clampAck(event.seq);
      if (seq <= context.s.queue.lastAcked) return;
      const out = new Outbox(context, event.now);
      out.record({ v: 1, type: 'acked', seq });
      flush(out, enqueue);
    }),
    retransmit: enqueueActions(({ context, event, enqueue }) => {
      const { s, config } = context;
      const plan = s.queue.retransmit(event.now, config.ackTimeoutMs, config.maxRetries);
      if (plan.resend.length === 0) return;
      enqueue.emit({
        type: 'send',
        linkId: context.linkId,
        frames: plan.resend.map((q) => q.frame),
        seqs: plan.resend.map((q) => q.seq),
        retransmit: true,
      });
    }),
    /** Close the current link with `code`; the session stays for a resume. */
    dropLink: enqueueActions(({ context, event, enqueue }, params: { code: number; reason: string }) => {
      dropLink(context, enqueue, event.now, params.code, params.reason);
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
      const out = new Outbox(context, event.now);
      out.record({ v: 1, type: 'closed', at: event.now, reason });
      context.linkId = 0;
      if (linkId !== 0) out.after.push({ type: 'close', linkId, code: CloseCode.NO_ERROR, reason });
      out.after.push({ type: 'ended', reason });
      flush(out, enqueue);
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
        KICK: { target: 'closed', actions: 'endSession' },
        UPSTREAM_REPLY: { actions: 'answerFromUpstream' },
        UPSTREAM_FAILED: { actions: 'answerUpstreamFailure' },
        PUSH: { actions: 'acceptPush' },
        TICK: [
          { guard: 'detachedTooLong', target: 'closed', actions: 'endSession' },
          { guard: 'idleTooLong', target: 'closed', actions: 'endSession' },
          // The link is dead, not the messages: everything stays queued for a resume.
          {
            guard: and([stateIn({ active: { link: 'attached' } }), 'retriesExhausted']),
            target: '#session.active.link.detached',
            actions: { type: 'dropLink', params: { code: CloseCode.ACK_TIMEOUT, reason: 'ack timeout' } },
          },
          { guard: stateIn({ active: { link: 'attached' } }), actions: 'retransmit' },
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
            // Frames count only from the current link: a link taken over is ignored until it closes.
            attached: {
              on: {
                // A START on another connection takes the session over.
                ATTACH: { target: 'attached', reenter: true, actions: 'attachLink' },
                DETACH: { guard: 'fromCurrentLink', target: 'detached', actions: 'detachLink' },
                SHUTDOWN: {
                  target: 'detached',
                  actions: {
                    type: 'dropLink',
                    params: { code: CloseCode.SERVER_SHUTDOWN, reason: 'server shutdown' },
                  },
                },
                STOP: { guard: 'fromCurrentLink', target: '#session.closed', actions: 'endSession' },
                HEARTBEAT: { guard: 'fromCurrentLink', actions: ['touch', 'answerHeartbeat'] },
                ACK: { guard: 'fromCurrentLink', actions: ['touch', 'acknowledge'] },
                BUSINESS: [
                  { guard: not('fromCurrentLink') },
                  {
                    guard: 'invalidSeq',
                    actions: [
                      'touch',
                      {
                        type: 'refuseRequest',
                        params: ({ event }) => {
                          assertEvent(event, 'BUSINESS');
                          return {
                            code: ErrorCode.BAD_REQUEST,
                            message: 'BUSINESS seq_id must be > 0',
                            detail: `seq_id=${event.seq}`,
                          };
                        },
                      },
                    ],
                  },
                  // Its answer, if still unacknowledged, reaches the client anyway.
                  { guard: and(['seenSeq', 'answerPending']), actions: ['touch', 'sendUnsent'] },
                  {
                    guard: and(['seenSeq', 'queueFull']),
                    actions: [
                      'touch',
                      {
                        type: 'refuseRequest',
                        params: { code: ErrorCode.QUEUE_FULL, message: 'session queue full' },
                      },
                    ],
                  },
                  { guard: 'seenSeq', actions: ['touch', 'answerDuplicate'] },
                  // Not accepted (nothing stored, seq not consumed): the client may send the same seq again.
                  {
                    guard: 'storeUnavailable',
                    actions: [
                      'touch',
                      {
                        type: 'refuseRequest',
                        params: {
                          code: ErrorCode.UPSTREAM_UNAVAILABLE,
                          message: 'event log unavailable',
                          detail: 'the gateway cannot store session state right now; retry',
                        },
                      },
                    ],
                  },
                  // Not accepted: the client may send the same seq again once it has acknowledged pushes.
                  {
                    guard: 'queueFull',
                    actions: [
                      'touch',
                      {
                        type: 'refuseRequest',
                        params: ({ context }) => ({
                          code: ErrorCode.QUEUE_FULL,
                          message: 'session queue full',
                          detail: `max_queue=${context.config.maxQueue} max_queue_bytes=${context.config.maxQueueBytes}`,
                        }),
                      },
                    ],
                  },
                  {
                    guard: and([stateIn({ active: { phase: 'inited' } }), 'needsLogin']),
                    actions: ['touch', 'refuseNotLoggedIn'],
                  },
                  { actions: ['touch', 'forwardUpstream'] },
                ],
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
