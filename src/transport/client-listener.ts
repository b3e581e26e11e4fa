/**
 * The client edge: turns a QUIC session stream into session-actor events.
 * Frames are decoded here (bad bytes close the connection with PROTOCOL_ERROR
 * and touch nothing else); state changes happen only in the actor.
 */

import { type Admission, admitAll, type Logger, type SessionLink } from '../actors/ports.js';
import type { SessionActor } from '../actors/session-actor.js';
import type { SessionSystem } from '../actors/session-system.js';
import type { Authenticator } from '../auth/authenticator.js';
import { validateOpenid } from '../auth/openid.js';
import { messageOf } from '../errors.js';
import { TokenBucket } from '../machines/rate-window.js';
import { effectiveStartTimeoutMs } from '../machines/start-timeout.js';
import { CloseCode, ErrorCode, RequestType } from '../protocol/codes.js';
import { controlErrorFrame, startRespFrame } from '../protocol/frames.js';
import { FrameDecoder, FrameError } from '../protocol/framing.js';
import {
  BusinessRequest,
  ClientAck,
  ClientRequest,
  type ClientRequest as ClientRequestMsg,
  HeartbeatRequest,
  StartRequest,
} from '../protocol/messages.js';
import type { StreamConnection } from './quic/types.js';
import { SampledLog } from './sampled-log.js';

/**
 * Limits on connections that have not started a session and on frame rates
 * (docs/security-edge.md). Absent = none of them (overload protection off).
 */
export interface EdgeLimitsOptions {
  /** overload_protection.max_connections (for the start_timeout scaling and displacement). */
  maxConnections: number;
  /** Connections without a started session at once (max_connections less the reserved share). */
  maxPreStart: number;
  /** start_timeout at max_connections (it shrinks from half of max_connections on). */
  startTimeoutFloorMs: number;
  /** Client frames a second per connection (token bucket), every frame type; 0 = no limit. */
  framesPerSecond: number;
  frameBurst: number;
}

/** Why the listener refused or closed a connection early (metrics). */
export type ListenerRefusal = 'pre_start_displaced' | 'pre_start_full' | 'start_timeout' | 'frame_rate';
export const LISTENER_REFUSALS: readonly ListenerRefusal[] = [
  'pre_start_displaced',
  'pre_start_full',
  'start_timeout',
  'frame_rate',
];

export interface ClientListenerOptions {
  system: SessionSystem;
  auth: Authenticator;
  maxFrameBytes: number;
  startTimeoutMs: number;
  /** A connection whose unsent bytes pass this is cut off (a client that stopped reading). */
  maxBufferedBytes: number;
  admission?: Admission;
  /** Runs after authentication, before the session is bound (cross-node takeover). */
  beforeStart?: (openid: string) => Promise<void>;
  logger?: Logger;
  /** Connection counters for metrics and /stats. */
  onConnectionChange?: (active: number) => void;
  /** Every accepted client frame (metrics). */
  onRequest?: (type: number) => void;
  edge?: EdgeLimitsOptions;
  /** Monotonic milliseconds for the frame-rate buckets (default performance.now). */
  now?: () => number;
}

/**
 * docs/protocol.md section 1 (v1.1): until a successful START_RESP has been sent on
 * the connection, a frame above this (or max_frame_bytes, if smaller) is a
 * protocol error, refused from its length prefix without buffering its body.
 */
export const PRE_START_MAX_FRAME_BYTES = 16 * 1024;

let nextLinkId = 1;
/** Frames a client may pipeline behind START while it is being authenticated. */
const MAX_EARLY_FRAMES = 256;

export class ClientListener {
  private active = 0;
  private started = 0;
  private readonly conns = new Set<ClientConnection>();
  /** Connections that have sent no START yet, oldest first (the ones a newcomer may displace). */
  private readonly awaiting = new Set<ClientConnection>();
  readonly refused: Record<ListenerRefusal, number> = {
    pre_start_displaced: 0,
    pre_start_full: 0,
    start_timeout: 0,
    frame_rate: 0,
  };
  /** Most bytes any connection's decoder held for a partial frame before its START_RESP (tests). */
  preStartPendingHighWater = 0;

  /** @internal Lines an unauthenticated peer can cause (protocol errors, refused STARTs), rate-limited. */
  readonly preStartLog: SampledLog;

  constructor(readonly opts: ClientListenerOptions) {
    this.preStartLog = new SampledLog(opts.logger);
  }

  get connectionCount(): number {
    return this.active;
  }

  /** Connections whose session has not started (no successful START yet). */
  get preStartCount(): number {
    return this.active - this.started;
  }

  accept(conn: StreamConnection): void {
    const admission = this.opts.admission ?? admitAll;
    const edge = this.opts.edge;
    if (edge && (this.preStartCount >= edge.maxPreStart || this.active >= edge.maxConnections)) {
      // Idle connections must not lock newcomers out: the oldest one still without
      // START makes room. Started sessions are never displaced.
      if (!this.displaceOldestIdle() && this.preStartCount >= edge.maxPreStart) {
        this.refused.pre_start_full++;
        refuseOverloaded(conn, 'too many connections without a session');
        return;
      }
    }
    if (!admission.admitConnection(this.active)) {
      refuseOverloaded(conn, 'too many connections');
      return;
    }
    this.active++;
    this.opts.onConnectionChange?.(this.active);
    const startTimeoutMs = edge
      ? effectiveStartTimeoutMs(this.opts.startTimeoutMs, this.active, edge.maxConnections, {
          floorMs: edge.startTimeoutFloorMs,
        })
      : this.opts.startTimeoutMs;
    const c = new ClientConnection(conn, this.opts, admission, this, startTimeoutMs);
    this.conns.add(c);
    this.awaiting.add(c);
  }

  private displaceOldestIdle(): boolean {
    const oldest = this.awaiting.values().next();
    if (oldest.done === true) return false;
    this.refused.pre_start_displaced++;
    oldest.value.overloaded('displaced by a newer connection');
    return true;
  }

  /** @internal A connection left awaiting_start (START arrived, or it closed). */
  leftAwaiting(c: ClientConnection): void {
    this.awaiting.delete(c);
  }

  /** @internal A session was bound to the connection. */
  sessionStarted(): void {
    this.started++;
  }

  /** @internal */
  connectionGone(c: ClientConnection, wasStarted: boolean): void {
    this.active--;
    if (wasStarted) this.started--;
    this.conns.delete(c);
    this.awaiting.delete(c);
    this.opts.admission?.connectionClosed?.();
    this.opts.onConnectionChange?.(this.active);
  }

  /** @internal */
  preStartPending(bytes: number): void {
    if (bytes > this.preStartPendingHighWater) this.preStartPendingHighWater = bytes;
  }

  /** Connections that never sent START are closed at shutdown; sessions close their own. */
  closeUnbound(code: number, reason: string): void {
    for (const c of this.conns) c.closeIfUnbound(code, reason);
    this.preStartLog.summarize(true);
  }
}

class ClientConnection {
  private readonly decoder: FrameDecoder;
  private phase: 'awaiting_start' | 'authenticating' | 'bound' | 'closed' = 'awaiting_start';
  private actor: SessionActor | null = null;
  private readonly link: SessionLink;
  private startTimer: NodeJS.Timeout | null;
  /** Frames that arrived while START was being authenticated. */
  private early: ClientRequestMsg[] = [];
  /** Highest ACK of the current read, not yet given to the actor. */
  private pendingAck = 0;
  /** A successful START_RESP was written: frames up to max_frame_bytes from now on. */
  private started = false;
  /** Client frames of every type, per connection (absent: no frame-rate limit). */
  private readonly frameBucket: TokenBucket | null;
  private readonly now: () => number;

  constructor(
    private readonly conn: StreamConnection,
    private readonly opts: ClientListenerOptions,
    private readonly admission: Admission,
    private readonly owner: ClientListener,
    startTimeoutMs: number,
  ) {
    this.now = opts.now ?? (() => performance.now());
    const edge = opts.edge;
    this.frameBucket =
      edge && edge.framesPerSecond > 0
        ? new TokenBucket(edge.framesPerSecond, Math.max(1, edge.frameBurst), this.now())
        : null;
    this.decoder = new FrameDecoder(Math.min(PRE_START_MAX_FRAME_BYTES, opts.maxFrameBytes));
    const linkId = nextLinkId++;
    this.link = {
      id: linkId,
      connectionId: conn.id,
      send: (frames) => this.write(frames),
      close: (code, reason) => this.close(code, reason),
    };
    this.startTimer = setTimeout(() => {
      if (this.phase === 'awaiting_start') owner.refused.start_timeout++;
      this.protocolError('no START within start_timeout');
    }, startTimeoutMs);
    this.startTimer.unref();
    conn.onData = (chunk) => this.onData(chunk);
    conn.onClose = (info) => this.onClosed(info.code, info.reason);
  }

  /** Close with 429 and 0x03 (displaced, or over a rate). */
  overloaded(why: string): void {
    if (this.phase === 'closed') return;
    this.peerLine('connection closed: overloaded', why);
    this.conn.write(controlErrorFrame(0, ErrorCode.OVERLOADED, why));
    this.close(CloseCode.OVERLOADED, why);
  }

  /** A line the peer can cause at will: sampled until its session has started. */
  private peerLine(msg: string, why: string): void {
    const fields = { connectionId: this.conn.id, why };
    if (this.started) this.opts.logger?.info(fields, msg);
    else this.owner.preStartLog.info(`${msg}:${why}`, fields, msg);
  }

  closeIfUnbound(code: number, reason: string): void {
    if (this.phase === 'awaiting_start' || this.phase === 'authenticating') this.close(code, reason);
  }

  private write(frames: readonly Uint8Array[]): void {
    if (this.phase === 'closed') return;
    if (!this.started) {
      // Only the bound session writes here, and its first frame is the successful START_RESP.
      this.started = true;
      this.decoder.setMaxFrameBytes(this.opts.maxFrameBytes);
    }
    for (const f of frames) this.conn.write(f);
    if (this.conn.bufferedBytes > this.opts.maxBufferedBytes) {
      // A client that never reads cannot grow our buffers without bound; its pushes stay queued for a resume.
      this.opts.logger?.warn(
        { connectionId: this.conn.id, buffered: this.conn.bufferedBytes },
        'client not reading; closing',
      );
      this.close(CloseCode.OVERLOADED, 'client not reading');
    }
  }

  private close(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    this.conn.close(code, reason);
    this.onClosed(code, reason);
  }

  private onClosed(code: number, reason: string): void {
    if (this.phase === 'closed') return;
    const wasBound = this.phase === 'bound';
    this.phase = 'closed';
    this.owner.connectionGone(this, wasBound);
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = null;
    this.conn.onData = null;
    if (wasBound && this.actor) this.actor.send({ type: 'DETACH', linkId: this.link.id });
    this.opts.logger?.debug({ connectionId: this.conn.id, code, reason }, 'connection closed');
  }

  private protocolError(why: string, frameError?: number): void {
    if (this.phase === 'closed') return;
    this.peerLine('protocol error', why);
    if (frameError !== undefined) this.conn.write(controlErrorFrame(0, frameError, why));
    this.close(CloseCode.PROTOCOL_ERROR, why);
  }

  private onData(chunk: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
      if (!this.started) this.owner.preStartPending(this.decoder.pendingBytes);
    } catch (err) {
      if (err instanceof FrameError) {
        this.protocolError(
          err.message,
          err.kind === 'too_large' ? ErrorCode.FRAME_TOO_LARGE : ErrorCode.BAD_REQUEST,
        );
        return;
      }
      throw err;
    }
    // Every frame type costs decoding and an actor event: all are rate limited, in
    // one take per read so the check costs nothing per frame.
    if (frames.length > 0 && this.frameBucket && !this.frameBucket.tryTake(this.now(), frames.length)) {
      this.owner.refused.frame_rate++;
      this.overloaded('frame rate exceeded');
      return;
    }
    for (const frame of frames) {
      if (this.phase === 'closed') return;
      let req: ClientRequestMsg;
      try {
        req = ClientRequest.decode(frame);
      } catch {
        this.protocolError('undecodable ClientRequest');
        return;
      }
      this.onRequest(req);
    }
    this.flushAck();
  }

  /** ACKs are cumulative: of several in one read only the highest goes to the actor. */
  private flushAck(): void {
    if (this.pendingAck === 0 || !this.actor || this.phase !== 'bound') return;
    const seq = this.pendingAck;
    this.pendingAck = 0;
    this.actor.send({ type: 'ACK', linkId: this.link.id, seq });
  }

  private onRequest(req: ClientRequestMsg): void {
    switch (this.phase) {
      case 'awaiting_start':
        if (req.type !== RequestType.START) {
          this.protocolError('first frame must be START');
          return;
        }
        void this.onStart(req);
        return;
      case 'authenticating':
        if (this.early.length >= MAX_EARLY_FRAMES) {
          this.close(CloseCode.OVERLOADED, 'too many frames before START_RESP');
          return;
        }
        this.early.push(req);
        return;
      case 'bound':
        this.toActor(req);
        return;
      case 'closed':
        return;
    }
  }

  private async onStart(req: ClientRequestMsg): Promise<void> {
    let start: StartRequest;
    try {
      start = StartRequest.decode(req.payload);
    } catch {
      this.protocolError('undecodable StartRequest');
      return;
    }
    if (this.startTimer) clearTimeout(this.startTimer);
    this.startTimer = null;
    this.owner.leftAwaiting(this);
    const openid = start.openid || req.openid;
    const invalid = validateOpenid(openid);
    if (invalid) {
      // The openid itself is not logged: it may be what the peer is attacking the log with.
      this.owner.preStartLog.info(
        `START refused:${invalid}`,
        { connectionId: this.conn.id, reason: invalid },
        'START refused: bad openid',
      );
      // Section 4.2 treats every START requirement alike: 401, then close 0x02.
      this.refuse(req.msgId, ErrorCode.UNAUTHENTICATED, invalid, CloseCode.UNAUTHENTICATED);
      return;
    }
    this.phase = 'authenticating';
    let result: Awaited<ReturnType<Authenticator['verify']>>;
    try {
      result = await this.opts.auth.verify(openid, start.authToken);
    } catch (err) {
      result = { ok: false, reason: `authenticator failed: ${messageOf(err)}` };
    }
    if (this.phase !== 'authenticating') return; // closed meanwhile
    if (!result.ok) {
      this.owner.preStartLog.info(
        `authentication failed:${result.reason}`,
        { connectionId: this.conn.id, openid, reason: result.reason },
        'authentication failed',
      );
      this.refuse(req.msgId, ErrorCode.UNAUTHENTICATED, result.reason, CloseCode.UNAUTHENTICATED);
      return;
    }
    if (this.opts.beforeStart) {
      try {
        await this.opts.beforeStart(openid);
      } catch (err) {
        // The session could not be confirmed here (e.g. it could not be read from the log):
        // refuse rather than start a second session for the user.
        this.opts.logger?.warn(
          { connectionId: this.conn.id, openid, err },
          'START refused: session not confirmed',
        );
        if (this.phase !== 'authenticating') return;
        this.refuse(
          req.msgId,
          ErrorCode.UPSTREAM_UNAVAILABLE,
          'session state unavailable; retry',
          CloseCode.SERVER_SHUTDOWN,
        );
        return;
      }
      if (this.phase !== 'authenticating') return;
    }
    this.phase = 'bound';
    this.owner.sessionStarted();
    const { actor, resumed } = this.opts.system.start(openid, this.link, req.msgId, start.lastAckedSeqId);
    this.actor = actor;
    this.opts.logger?.info(
      { connectionId: this.conn.id, openid, sessionId: actor.sessionId, resumed },
      resumed ? 'session resumed' : 'session started',
    );
    const early = this.early;
    this.early = [];
    for (const r of early) {
      if (this.phase !== 'bound') return;
      this.toActor(r);
    }
    this.flushAck();
  }

  private refuse(msgId: number, code: number, message: string, closeCode: number): void {
    this.conn.write(
      startRespFrame(msgId, {
        success: false,
        error: { errorCode: code, errorMessage: message, detail: '' },
      }),
    );
    this.close(closeCode, message);
  }

  private toActor(req: ClientRequestMsg): void {
    const actor = this.actor!;
    const linkId = this.link.id;
    this.opts.onRequest?.(req.type);
    if (req.type !== RequestType.ACK) this.flushAck();
    try {
      switch (req.type) {
        case RequestType.HEARTBEAT: {
          const hb = HeartbeatRequest.decode(req.payload);
          actor.send({ type: 'HEARTBEAT', linkId, msgId: req.msgId, clientTimestamp: hb.clientTimestamp });
          return;
        }
        case RequestType.BUSINESS: {
          const b = BusinessRequest.decode(req.payload);
          if (!this.admission.admitRequest(actor.sessionId)) {
            this.conn.write(
              controlErrorFrame(
                req.msgId,
                ErrorCode.OVERLOADED,
                'rate limit exceeded',
                `seq_id=${req.seqId}`,
              ),
            );
            return;
          }
          actor.send({
            type: 'BUSINESS',
            linkId,
            msgId: req.msgId,
            seq: req.seqId,
            action: b.action,
            params: b.params,
            data: b.data,
            headers: req.headers,
          });
          return;
        }
        case RequestType.ACK: {
          const ack = ClientAck.decode(req.payload);
          if (ack.ackedSeqId > this.pendingAck) this.pendingAck = ack.ackedSeqId;
          return;
        }
        case RequestType.STOP:
          actor.send({ type: 'STOP', linkId });
          return;
        case RequestType.START:
          this.conn.write(controlErrorFrame(req.msgId, ErrorCode.BAD_REQUEST, 'session already started'));
          return;
        default:
          this.protocolError(`unknown request type ${req.type}`);
          return;
      }
    } catch {
      this.protocolError(`undecodable payload for request type ${req.type}`);
    }
  }
}

function refuseOverloaded(conn: StreamConnection, why: string): void {
  conn.write(controlErrorFrame(0, ErrorCode.OVERLOADED, why));
  conn.close(CloseCode.OVERLOADED, 'overloaded');
}
