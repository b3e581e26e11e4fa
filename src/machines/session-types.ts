/**
 * What goes into and comes out of the session machine: its config, input and
 * context, the events it takes, the effects the actor carries out and the facts
 * observers (metrics, lifecycle, inspector) read. Types only, plus `isFact`.
 */
import type { NotifySyncHint, PushErrorCode as ProducerErrorCode } from '../protocol/codes.js';
import type { UpstreamRequest, UpstreamResponse } from '../protocol/messages.js';
import type { SessionEvent, SessionState } from './session-state.js';

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
   * `seqs[i]` is the reliable seq of `frames[i]` (0 for a control frame);
   * `retransmit`: these frames were written on this link before (ack_timeout).
   * `control`: only control frames (seq 0: heartbeat answers, protocol
   * errors), no stored event behind them, so they need not wait for an
   * earlier store (nothing reliable is reordered by sending them first).
   */
  | {
      type: 'send';
      linkId: number;
      frames: Uint8Array[];
      seqs: number[];
      retransmit: boolean;
      control?: boolean;
    }
  | { type: 'close'; linkId: number; code: number; reason: string }
  | { type: 'upstream'; service: string; clientSeq: number; msgId: number; request: UpstreamRequest }
  /** Answers to the producers of one PUSH batch, in order. */
  | { type: 'replies'; replies: Array<[(result: PushResult) => void, PushResult]> }
  | { type: 'ended'; reason: string };

/**
 * What happened to the session, for observers (metrics, lifecycle, inspector):
 * the actor carries out effects and only reports facts. Each fact follows the
 * `events` effect that stored it.
 */
export type SessionFact =
  /** A reliable push got its seq: an answer to request `clientSeq`, or a notify (clientSeq 0). */
  | { type: 'accepted'; seq: number; kind: 'answer' | 'notify'; clientSeq: number }
  /** A notify was held for in-flight request `clientSeq`. */
  | { type: 'held'; clientSeq: number }
  /**
   * An upstream call's outcome became the answer of `clientSeq`; `elapsedMs`: the
   * call as the actor timed it (absent when no call was made).
   */
  | { type: 'answered'; clientSeq: number; service?: string; elapsedMs?: number }
  /** The client acknowledged up to `seq`; `roundTripMs` when a push it covers left only once. */
  | { type: 'acked'; seq: number; roundTripMs: number | null }
  | { type: 'attached'; linkId: number; kind: 'new' | 'resume' | 'takeover' }
  | { type: 'detached'; linkId: number }
  | { type: 'logged_in'; zone: number };

/** Everything the machine emits: effects to carry out, facts to observe. */
export type SessionOutput = SessionEffect | SessionFact;

const FACT_TYPES: ReadonlySet<SessionOutput['type']> = new Set<SessionFact['type']>([
  'accepted',
  'held',
  'answered',
  'acked',
  'attached',
  'detached',
  'logged_in',
]);

export function isFact(output: SessionOutput): output is SessionFact {
  return FACT_TYPES.has(output.type);
}

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
  /** `elapsedMs`: how long the upstream call took, as the actor timed it (a fact for observers). */
  | {
      type: 'UPSTREAM_REPLY';
      now: number;
      clientSeq: number;
      service: string;
      response: UpstreamResponse;
      elapsedMs?: number;
    }
  | {
      type: 'UPSTREAM_FAILED';
      now: number;
      clientSeq: number;
      code: number;
      message: string;
      detail: string;
      service?: string;
      elapsedMs?: number;
    }
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

/** An ERROR frame refusing a request without accepting it (seq 0, not stored). */
export interface Refusal {
  code: number;
  message: string;
  detail?: string;
}
