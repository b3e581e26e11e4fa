/**
 * The GateSvr client SDK: one QUIC connection and session stream, START/resume,
 * request/answer by client seq, heartbeats, in-order delivery of reliable
 * pushes with duplicates dropped, and cumulative ACKs (every `ackEvery` pushes
 * or `ackDelayMs`, whichever first). With `autoResume` a lost connection is
 * re-established and the session resumed without losing a push or a request.
 */

import { CodedError, GateError } from '../errors.js';
import { CloseCode, ErrorCode, PushType, RequestType } from '../protocol/codes.js';
import { encodeFrame, FrameDecoder } from '../protocol/framing.js';
import {
  BusinessRequest,
  BusinessResponse,
  ClientAck,
  ClientRequest,
  ErrorMessage,
  HeartbeatRequest,
  HeartbeatResponse,
  NotifyMessage,
  ServerPush,
  StartRequest,
  StartResponse,
  StopRequest,
} from '../protocol/messages.js';
import { connectQuic } from '../transport/quic/index.js';
import type { CloseInfo, StreamConnection } from '../transport/quic/types.js';
import { Backoff } from './backoff.js';

export interface GateClientOptions {
  host: string;
  port: number;
  /**
   * Gateways to try in turn (e.g. a primary and its backup): a failed
   * (re)connect or START moves to the next one. `host`/`port` come first.
   */
  addresses?: Array<{ host: string; port: number }>;
  openid: string;
  authToken?: string;
  /** CA to verify the gateway's certificate; or `insecure` for self-signed demos. */
  caPem?: string;
  insecure?: boolean;
  serverName?: string;
  maxFrameBytes?: number;
  /** Send HEARTBEAT at the interval START_RESP suggests (default true). */
  heartbeat?: boolean;
  ackEvery?: number;
  ackDelayMs?: number;
  /**
   * Reconnect and resume after an unexpected connection loss (default false).
   * Attempts wait a full-jitter exponential backoff: attempt k (from 0) waits a
   * random delay in [0, min(reconnectMaxMs, reconnectMinMs * 2^k)); the first
   * one too, so the clients of a failed gateway do not all come back at once.
   * A failed attempt moves to the next of `addresses`; a resume resets it.
   */
  autoResume?: boolean;
  /** Upper bound of the first reconnect delay, ms (default 100). */
  reconnectMinMs?: number;
  /** Cap of the reconnect delay, ms (default 5000). */
  reconnectMaxMs?: number;
  /** @deprecated Use `reconnectMinMs` (an alias of it). */
  resumeDelayMs?: number;
  /** QUIC handshake timeout, also the START timeout, ms (default 10000). */
  connectTimeoutMs?: number;
  /** QUIC idle timeout, ms (default 30000): how soon a silent gateway is declared lost. */
  idleTimeoutMs?: number;
}

/** After an automatic or manual resume: `resumed` false means the gateway started a new session. */
export interface ReconnectInfo {
  resumed: boolean;
  /** Failed attempts before this one since the connection was lost. */
  attempts: number;
}

export interface Answer {
  seq: number;
  msgId: number;
  code: number;
  message: string;
  data: Uint8Array;
  headers: Record<string, string>;
}

export interface Notify extends NotifyMessage {
  seq: number;
}

/** A reliable push as delivered, in seq order. */
export type Delivered =
  | { kind: 'answer'; seq: number; clientSeq: number; answer: Answer }
  | { kind: 'error'; seq: number; clientSeq: number; error: GateError }
  | { kind: 'notify'; seq: number; notify: Notify };

export class ClientClosedError extends CodedError<'CONNECTION_CLOSED'> {
  constructor(readonly info: CloseInfo) {
    super(
      'CONNECTION_CLOSED',
      `connection closed (code ${info.code}${info.reason ? `: ${info.reason}` : ''})`,
    );
  }
}

interface PendingRequest {
  msgId: number;
  frame: Uint8Array;
  resolve: (a: Answer) => void;
  reject: (e: Error) => void;
}

const EMPTY = new Uint8Array(0);
const DEFAULT_IDLE_MS = 30_000;

export class GateClient {
  sessionId = '';
  zone = 0;
  resumed = false;
  heartbeatIntervalSec = 0;
  /** Highest reliable seq delivered to the application. */
  lastDelivered = 0;
  /** Highest client seq the gateway said it accepted (START_RESP). */
  lastClientSeq = 0;

  private conn: StreamConnection | null = null;
  private decoder: FrameDecoder;
  private nextMsgId = 1;
  private nextSeq = 1;
  /** Set by a resume of a session this client did not hold: see `onPush`. */
  private adoptFirstSeq = false;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly controls = new Map<
    number,
    { resolve: (p: ServerPush) => void; reject: (e: Error) => void }
  >();
  private unacked = 0;
  private ackTimer: NodeJS.Timeout | null = null;
  private hbTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private addrIndex = 0;
  private resuming: Promise<void> | null = null;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly reconnectListeners = new Set<(info: ReconnectInfo) => void>();
  private readonly deliveredListeners = new Set<(d: Delivered) => void>();
  private readonly closeListeners = new Set<(info: CloseInfo) => void>();
  private readonly notifyQueue: Notify[] = [];
  private notifyWaiter: ((n: Notify) => void) | null = null;

  private constructor(private readonly opts: GateClientOptions) {
    this.decoder = new FrameDecoder(opts.maxFrameBytes ?? 1024 * 1024);
    const minMs = opts.reconnectMinMs ?? opts.resumeDelayMs ?? 100;
    this.backoff = new Backoff({ minMs, maxMs: Math.max(minMs, opts.reconnectMaxMs ?? 5000) });
  }

  /** Connect and START a session (new, or resumed if the gateway still has it). */
  static async connect(opts: GateClientOptions): Promise<GateClient> {
    const client = new GateClient(opts);
    await client.open();
    return client;
  }

  get connection(): StreamConnection | null {
    return this.conn;
  }
  get pendingRequests(): number {
    return this.pending.size;
  }

  /** Every reliable push in order (answers, errors, notifies). */
  onDelivered(fn: (d: Delivered) => void): () => void {
    this.deliveredListeners.add(fn);
    return () => this.deliveredListeners.delete(fn);
  }

  onClose(fn: (info: CloseInfo) => void): () => void {
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  /** After every successful resume(), automatic ones included. */
  onReconnect(fn: (info: ReconnectInfo) => void): () => void {
    this.reconnectListeners.add(fn);
    return () => this.reconnectListeners.delete(fn);
  }

  /** The next NOTIFY (buffered in order if none is awaited). */
  nextNotify(timeoutMs = 10_000): Promise<Notify> {
    const queued = this.notifyQueue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.notifyWaiter = null;
        reject(new Error(`no NOTIFY within ${timeoutMs} ms`));
      }, timeoutMs);
      this.notifyWaiter = (n) => {
        clearTimeout(t);
        this.notifyWaiter = null;
        resolve(n);
      };
    });
  }

  /** Notifies as an async iterator. */
  async *notifications(): AsyncGenerator<Notify> {
    while (!this.stopped) yield await this.nextNotify(2 ** 31 - 1);
  }

  /** Send a BUSINESS request; resolves with its BUSINESS_DATA, rejects with a GateError on ERROR. */
  request(
    action: string,
    params: Record<string, string> = {},
    data: Uint8Array = EMPTY,
    headers?: Record<string, string>,
  ): Promise<Answer> {
    const seq = this.nextSeq++;
    const msgId = this.msgId();
    const frame = encodeFrame(
      ClientRequest.encode({
        msgId,
        seqId: seq,
        type: RequestType.BUSINESS,
        payload: BusinessRequest.encode({ action, params, data }),
        headers,
      }),
    );
    return new Promise<Answer>((resolve, reject) => {
      const conn = this.conn;
      if ((!conn || conn.closed) && (!this.opts.autoResume || this.stopped)) {
        reject(new Error('not connected: connect or resume() first'));
        return;
      }
      this.pending.set(seq, { msgId, frame, resolve, reject });
      // While a resume is under way the frame waits: START_RESP decides whether it is resent.
      if (conn && !conn.closed) conn.write(frame);
    });
  }

  heartbeat(
    timeoutMs = 10_000,
  ): Promise<{ clientTimestamp: number; serverTimestamp: number; rttMs: number }> {
    const sent = Date.now();
    return this.control(
      RequestType.HEARTBEAT,
      HeartbeatRequest.encode({ clientTimestamp: sent }),
      timeoutMs,
    ).then((p) => {
      const hb = HeartbeatResponse.decode(p.payload);
      return {
        clientTimestamp: hb.clientTimestamp,
        serverTimestamp: hb.serverTimestamp,
        rttMs: Date.now() - sent,
      };
    });
  }

  /** Acknowledge everything delivered so far, now. */
  ackNow(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    this.unacked = 0;
    this.sendRequest(RequestType.ACK, ClientAck.encode({ ackedSeqId: this.lastDelivered }));
  }

  /** End the session for good (STOP); resolves when the gateway closed the connection. */
  async stop(reason = 1): Promise<void> {
    this.stopped = true;
    this.cancelReconnect();
    const conn = this.conn;
    if (!conn || conn.closed) return;
    this.ackNow();
    const closed = new Promise<void>((resolve) => this.onClose(() => resolve()));
    this.sendRequest(RequestType.STOP, StopRequest.encode({ reason }));
    await closed;
  }

  /** Drop the connection without STOP: the session stays resumable on the gateway. */
  close(code: number = CloseCode.NO_ERROR): void {
    this.stopped = true;
    this.cancelReconnect();
    this.clearTimers();
    this.conn?.close(code, 'client close');
    this.failAll(new Error('client closed'));
  }

  /** Reconnect and resume the session (same openid, acked up to lastDelivered). */
  async resume(): Promise<void> {
    if (this.resuming) return this.resuming;
    this.stopped = false;
    this.cancelReconnect();
    this.resuming = (async () => {
      if (this.conn && !this.conn.closed) this.conn.close(CloseCode.NO_ERROR, 'resume');
      try {
        await this.open();
      } catch (err) {
        this.addrIndex++; // next attempt goes to the next gateway of `addresses`
        throw err;
      }
      const info: ReconnectInfo = { resumed: this.resumed, attempts: Math.max(0, this.backoff.attempts - 1) };
      this.backoff.reset();
      for (const fn of this.reconnectListeners) fn(info);
    })().finally(() => {
      this.resuming = null;
    });
    return this.resuming;
  }

  private async open(): Promise<void> {
    const o = this.opts;
    const list = [{ host: o.host, port: o.port }, ...(o.addresses ?? [])];
    const addr = list[this.addrIndex % list.length]!;
    const conn = await connectQuic({
      host: addr.host,
      port: addr.port,
      caPem: o.caPem,
      insecure: o.insecure,
      serverName: o.serverName,
      connectTimeoutMs: o.connectTimeoutMs,
      idleTimeoutMs: o.idleTimeoutMs,
      // Below the idle timeout, so an idle session is not dropped by a short one.
      keepAliveMs: Math.min(10_000, Math.floor((o.idleTimeoutMs ?? DEFAULT_IDLE_MS) / 2)),
    });
    this.conn = conn;
    this.decoder = new FrameDecoder(o.maxFrameBytes ?? 1024 * 1024);
    conn.onData = (chunk) => this.onData(conn, chunk);
    conn.onClose = (info) => this.onConnClose(conn, info);
    let resp: StartResponse;
    try {
      resp = StartResponse.decode(
        (
          await this.control(
            RequestType.START,
            StartRequest.encode({
              openid: o.openid,
              authToken: o.authToken ?? '',
              lastAckedSeqId: this.lastDelivered,
            }),
            o.connectTimeoutMs ?? 10_000,
          )
        ).payload,
      );
      if (!resp.success) {
        const err = resp.error;
        throw new GateError(
          (err?.errorCode ?? ErrorCode.UNAUTHENTICATED) as ErrorCode,
          err?.errorMessage ?? 'START refused',
        );
      }
    } catch (err) {
      if (!conn.closed) conn.close(CloseCode.NO_ERROR, 'START failed');
      throw err;
    }
    // A session this client never held (taken over from another device): the pushes the other
    // device acknowledged are gone, so the gateway's first reliable push sets where delivery starts.
    this.adoptFirstSeq = resp.resumed && resp.sessionId !== this.sessionId;
    this.sessionId = resp.sessionId;
    this.zone = resp.zone;
    this.resumed = resp.resumed;
    this.heartbeatIntervalSec = resp.heartbeatInterval;
    this.lastClientSeq = resp.lastClientSeq;
    if (!resp.resumed) {
      // A new session: seqs start over on both sides; earlier requests cannot be answered.
      this.lastDelivered = 0;
      for (const [seq, p] of this.pending) {
        this.pending.delete(seq);
        p.reject(new GateError(ErrorCode.SESSION_NOT_FOUND, 'session was not resumed'));
      }
      this.nextSeq = 1;
    } else {
      // Resend only what the gateway has not accepted; answers to the rest come on their own.
      for (const [seq, p] of [...this.pending].sort((a, b) => a[0] - b[0])) {
        if (seq > resp.lastClientSeq) conn.write(p.frame);
      }
      this.nextSeq = Math.max(this.nextSeq, resp.lastClientSeq + 1);
    }
    if (o.heartbeat !== false && resp.heartbeatInterval > 0) {
      this.hbTimer = setInterval(() => {
        this.heartbeat().catch(() => {});
      }, resp.heartbeatInterval * 1000);
      this.hbTimer.unref();
    }
  }

  private msgId(): number {
    const id = this.nextMsgId;
    this.nextMsgId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  private sendRequest(type: RequestType, payload: Uint8Array, msgId = this.msgId()): void {
    this.conn?.write(
      encodeFrame(ClientRequest.encode({ msgId, seqId: 0, type, payload, openid: this.opts.openid })),
    );
  }

  private control(type: RequestType, payload: Uint8Array, timeoutMs: number): Promise<ServerPush> {
    const msgId = this.msgId();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.controls.delete(msgId);
        reject(new Error(`no answer to request type ${type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.controls.set(msgId, {
        resolve: (p) => {
          clearTimeout(t);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.sendRequest(type, payload, msgId);
    });
  }

  private onData(conn: StreamConnection, chunk: Uint8Array): void {
    if (conn !== this.conn) return;
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch {
      conn.close(CloseCode.PROTOCOL_ERROR, 'bad frame from gateway');
      return;
    }
    for (const f of frames) this.onPush(ServerPush.decode(f));
  }

  private onPush(p: ServerPush): void {
    if (p.seqId === 0) {
      const waiter = this.controls.get(p.msgId);
      if (waiter && (p.type === PushType.START_RESP || p.type === PushType.HEARTBEAT_RESP)) {
        this.controls.delete(p.msgId);
        waiter.resolve(p);
        return;
      }
      if (p.type === PushType.ERROR) this.onControlError(p);
      return;
    }
    if (this.adoptFirstSeq) {
      this.adoptFirstSeq = false;
      this.lastDelivered = p.seqId - 1;
    }
    if (p.seqId <= this.lastDelivered) {
      this.scheduleAck(); // a retransmission: acknowledge again, deliver nothing
      return;
    }
    if (p.seqId !== this.lastDelivered + 1) return; // out of order on one stream cannot happen; wait for the resend
    this.lastDelivered = p.seqId;
    this.deliver(p);
    this.scheduleAck();
  }

  private onControlError(p: ServerPush): void {
    const err = ErrorMessage.decode(p.payload);
    const error = new GateError(err.errorCode as ErrorCode, err.errorMessage, err.detail);
    const waiter = this.controls.get(p.msgId);
    if (waiter) {
      this.controls.delete(p.msgId);
      waiter.reject(error);
      return;
    }
    for (const [seq, req] of this.pending) {
      if (req.msgId === p.msgId) {
        this.pending.delete(seq);
        req.reject(error);
        return;
      }
    }
  }

  private deliver(p: ServerPush): void {
    let d: Delivered;
    if (p.type === PushType.NOTIFY) {
      const n = NotifyMessage.decode(p.payload) as Notify;
      n.seq = p.seqId;
      d = { kind: 'notify', seq: p.seqId, notify: n };
      if (this.notifyWaiter) this.notifyWaiter(n);
      else this.notifyQueue.push(n);
    } else {
      const clientSeq = Number(p.headers.client_seq ?? 0);
      const req = this.pending.get(clientSeq);
      this.pending.delete(clientSeq);
      if (p.type === PushType.ERROR) {
        const e = ErrorMessage.decode(p.payload);
        const error = new GateError(e.errorCode as ErrorCode, e.errorMessage, e.detail);
        d = { kind: 'error', seq: p.seqId, clientSeq, error };
        req?.reject(error);
      } else {
        const r = BusinessResponse.decode(p.payload);
        const answer: Answer = {
          seq: p.seqId,
          msgId: p.msgId,
          code: r.code,
          message: r.message,
          data: r.data,
          headers: p.headers,
        };
        d = { kind: 'answer', seq: p.seqId, clientSeq, answer };
        req?.resolve(answer);
      }
    }
    for (const fn of this.deliveredListeners) fn(d);
  }

  private scheduleAck(): void {
    this.unacked++;
    if (this.unacked >= (this.opts.ackEvery ?? 32)) {
      this.ackNow();
      return;
    }
    if (!this.ackTimer) {
      this.ackTimer = setTimeout(() => {
        this.ackTimer = null;
        if (this.unacked > 0) this.ackNow();
      }, this.opts.ackDelayMs ?? 50);
      this.ackTimer.unref();
    }
  }

  private onConnClose(conn: StreamConnection, info: CloseInfo): void {
    if (conn !== this.conn) return;
    this.clearTimers();
    for (const [, c] of this.controls) c.reject(new ClientClosedError(info));
    this.controls.clear();
    for (const fn of this.closeListeners) fn(info);
    const final =
      this.stopped ||
      (info.isApp && (info.code === CloseCode.UNAUTHENTICATED || info.code === CloseCode.SESSION_TAKEN_OVER));
    // Only a session that was started once is resumed (a failing connect() just throws).
    if (this.opts.autoResume && !final && this.sessionId !== '') {
      // A resume under way handles its own failure (next address, next delay).
      if (this.resuming) return;
      // A gateway shutting down (0x12) or gone silent (idle timeout: maybe dead) is not tried first.
      if ((info.isApp && info.code === CloseCode.SERVER_SHUTDOWN) || info.reason === 'idle_timeout')
        this.addrIndex++;
      this.scheduleReconnect();
      return;
    }
    this.failAll(new ClientClosedError(info));
  }

  /** One reconnect attempt after the next backoff delay (jittered, the first one too); retried until stopped. */
  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.resume().catch(() => this.scheduleReconnect());
    }, this.backoff.next());
    this.reconnectTimer.unref();
  }

  private cancelReconnect(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private failAll(err: Error): void {
    for (const [seq, p] of this.pending) {
      this.pending.delete(seq);
      p.reject(err);
    }
  }

  private clearTimers(): void {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    if (this.hbTimer) clearInterval(this.hbTimer);
    this.ackTimer = null;
    this.hbTimer = null;
  }
}
