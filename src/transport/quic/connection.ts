/**
 * One QUIC connection and its session stream (stream 0), driven by an Endpoint.
 * All quiche work for a connection happens in flush(): read streams, write the
 * queued bytes in one streamSend, close if asked, drain packets, re-arm timer.
 */
import { type NativeConnection, type NativeHostPort, quiche } from './native.js';
import type { CloseInfo, HostPort, StreamConnection, TransportCounters } from './types.js';
import { WriteQueue } from './write-queue.js';

export const SESSION_STREAM = 0;
/** Application error code used to reset streams other than the session stream. */
export const STREAM_REFUSED_CODE = 0x01;
/** How long close() waits for flow control to take the pending bytes. */
const CLOSE_FLUSH_LIMIT_MS = 5000;

const EMPTY = new Uint8Array(0);
const enc = new TextEncoder();
const dec = new TextDecoder();

/** The code in a quiche stream error such as `StreamReset(12)` / `StreamStopped(12)`. */
export function streamErrorCode(e: unknown): { kind: 'reset' | 'stopped' | 'other'; code: number } {
  const msg = e instanceof Error ? e.message : String(e);
  const m = /Stream(Reset|Stopped)\((\d+)\)/.exec(msg);
  if (m === null) return { kind: 'other', code: 0 };
  return { kind: m[1] === 'Reset' ? 'reset' : 'stopped', code: Number(m[2]) };
}

/**
 * What a connection asks of the endpoint driving it (endpoint.ts implements
 * it): declared here so that the two modules do not import each other.
 */
export interface ConnDriver {
  /** A buffer to encode outgoing packets into, shared by the endpoint's connections. */
  readonly scratch: Buffer;
  markDirty(conn: QuicConn): void;
  established(conn: QuicConn): void;
  maintainPaths(conn: QuicConn): void;
  sendAll(conn: QuicConn): void;
  updateTimer(conn: QuicConn): void;
  removeTimer(conn: QuicConn): void;
  sessionOpened(conn: QuicConn): void;
  connClosed(conn: QuicConn, info: CloseInfo): void;
  finalized(conn: QuicConn): void;
}

export interface ConnOptions {
  id: string;
  remote: NativeHostPort;
  isServer: boolean;
  highWaterMark: number;
}

export class QuicConn implements StreamConnection {
  /** Timer-heap fields. */
  deadline = 0;
  heapIndex = -1;
  /** Queued for this turn's flush. */
  dirty = false;
  readonly id: string;
  readonly isServer: boolean;
  established = false;
  /** Server: stream 0 seen. Client: stream 0 opened. */
  sessionOpen = false;
  /** onClose fired; the native connection may still be draining. */
  appClosed = false;
  finalized = false;
  /** Routing keys of every connection id mapped to this connection (server). */
  readonly cidKeys: string[] = [];
  /** A datagram came from an address other than `remote`: look at path events. */
  pathCheck = false;
  /** Number of peer migrations seen. */
  migrations = 0;
  /** Server: the source the connection counts against (edge-guard sourceKey). */
  sourceKey = '';
  /** Server: performance.now() when the connection state was created. */
  openedAt = 0;
  onData: ((chunk: Uint8Array) => void) | null = null;
  onDrain: (() => void) | null = null;
  onClose: ((info: CloseInfo) => void) | null = null;
  onMigrate: ((from: HostPort, to: HostPort) => void) | null = null;

  private _remote: NativeHostPort;
  private recvInfo: { from: NativeHostPort; to: NativeHostPort };
  private readonly wq = new WriteQueue();
  private readonly hwm: number;
  private readonly lwm: number;
  private needDrain = false;
  private closeReq: { code: number; reason: string } | null = null;
  private closeForced = false;
  private transportClose = false;
  private closeCalled = false;
  private closeAskedAt = 0;
  private pendingInfo: CloseInfo | null = null;

  constructor(
    private readonly ep: ConnDriver,
    readonly q: NativeConnection,
    o: ConnOptions,
  ) {
    this.id = o.id;
    this.isServer = o.isServer;
    this._remote = o.remote;
    this.recvInfo = { from: o.remote, to: { host: '', port: 0 } };
    this.hwm = o.highWaterMark;
    this.lwm = Math.floor(o.highWaterMark / 2);
  }

  get remote(): HostPort {
    return { host: this._remote.host, port: this._remote.port };
  }

  get bufferedBytes(): number {
    return this.wq.length;
  }

  get closed(): boolean {
    return this.appClosed || this.closeReq !== null;
  }

  write(data: Uint8Array): boolean {
    if (this.appClosed || this.closeReq !== null) return false;
    this.wq.push(data);
    this.ep.markDirty(this);
    if (this.wq.length > this.hwm) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  close(code: number, reason = ''): void {
    if (this.appClosed || this.closeReq !== null) return;
    this.closeReq = { code, reason };
    this.closeAskedAt = performance.now();
    this.ep.markDirty(this);
  }

  /**
   * Close now, dropping what flow control has not taken (server shutdown,
   * handshake refusal). With `isApp` false the close carries a transport code.
   */
  forceClose(code: number, reason = '', isApp = true): void {
    if (this.appClosed) return;
    if (this.closeReq === null) this.closeReq = { code, reason };
    this.closeForced = true;
    if (!isApp) this.transportClose = true;
    this.ep.markDirty(this);
  }

  counters(): TransportCounters {
    return connCounters(this.q);
  }

  /** Feed one datagram (decrypted in place by quiche). */
  recv(pkt: Buffer, host: string, port: number, local: NativeHostPort): void {
    const info = this.recvInfo;
    if (host !== this._remote.host || port !== this._remote.port) {
      this.pathCheck = true;
      info.from = { host, port };
    } else {
      info.from = this._remote;
    }
    info.to = local;
    try {
      this.q.recv(pkt, info);
    } catch {
      // Undecryptable or invalid packets are dropped; fatal errors show up as
      // localError/isClosed at flush.
    }
    this.ep.markDirty(this);
  }

  /** The peer moved (PeerMigrated path event). */
  migrated(to: NativeHostPort): void {
    const from = this.remote;
    this._remote = { host: to.host, port: to.port };
    this.migrations++;
    this.onMigrate?.(from, this.remote);
  }

  setRemote(to: NativeHostPort): void {
    this._remote = to;
  }

  flush(): void {
    if (this.finalized) return;
    const q = this.q;
    // Writes made by onData handlers are taken by this flush's write step.
    this.dirty = true;
    try {
      if (!this.established && q.isEstablished()) {
        this.established = true;
        this.ep.established(this);
      }
      if (this.established && !this.appClosed) {
        this.ep.maintainPaths(this);
        this.readStreams();
      }
    } finally {
      this.dirty = false;
    }
    if (!this.appClosed && this.closeReq === null && this.closeCalled === false) {
      if (this.wq.length > 0 && this.sessionOpen) this.writePending();
    } else if (this.closeReq !== null && !this.closeCalled) {
      if (this.wq.length > 0 && this.sessionOpen && !this.closeForced) this.writePending();
      // Without the session stream (the client opens it) queued bytes can never leave.
      if (
        this.wq.length === 0 ||
        this.closeForced ||
        !this.sessionOpen ||
        performance.now() - this.closeAskedAt > CLOSE_FLUSH_LIMIT_MS
      ) {
        // Put the stream data already taken by quiche on the wire first: quiche
        // stops sending stream frames once the connection is closing.
        this.ep.sendAll(this);
        this.closeCalled = true;
        const { code, reason } = this.closeReq;
        const isApp = !this.transportClose;
        this.wq.clear();
        try {
          q.close(isApp, code, enc.encode(reason));
        } catch {
          // already closed or draining
        }
        this.pendingInfo ??= { code, isApp, byPeer: false, reason: reason || 'local' };
      }
    }
    this.ep.sendAll(this);
    this.checkClosed();
    if (!this.finalized) this.ep.updateTimer(this);
  }

  private readStreams(): void {
    const q = this.q;
    if (!this.sessionOpen) {
      if (!q.isReadable()) return;
      if (q.streamReadable(SESSION_STREAM)) {
        this.sessionOpen = true;
        this.ep.sessionOpened(this);
        if (this.appClosed) return;
      }
    }
    if (this.sessionOpen && this.closeReq === null) this.readSession();
    if (!this.appClosed && q.isReadable()) this.refuseOtherStreams();
  }

  private readSession(): void {
    const q = this.q;
    const buf = this.ep.scratch;
    for (;;) {
      let r: [number, boolean] | null;
      try {
        r = q.streamRecv(SESSION_STREAM, buf);
      } catch (e) {
        const err = streamErrorCode(e);
        if (err.kind === 'reset') this.peerEnded('stream_reset', err.code);
        return;
      }
      if (r === null) return;
      const n = r[0];
      if (n > 0) {
        const chunk = Buffer.allocUnsafe(n);
        buf.copy(chunk, 0, 0, n);
        this.onData?.(chunk);
      }
      if (r[1]) {
        this.peerEnded('stream_finished', 0);
        return;
      }
      if (n < buf.length || this.closeReq !== null) return;
    }
  }

  private refuseOtherStreams(): void {
    const q = this.q;
    const ids: number[] = [];
    for (const id of q.readable()) if (id !== SESSION_STREAM || !this.sessionOpen) ids.push(id);
    for (const id of ids) {
      if (id === SESSION_STREAM) continue;
      try {
        q.streamShutdown(id, quiche.Shutdown.Read, STREAM_REFUSED_CODE);
      } catch {
        // gone already
      }
      // Bidirectional (bit 1 clear): also reset our sending half.
      if ((id & 2) === 0) {
        try {
          q.streamShutdown(id, quiche.Shutdown.Write, STREAM_REFUSED_CODE);
        } catch {
          // gone already
        }
      }
    }
  }

  private writePending(): void {
    let n: number | null;
    try {
      n = this.q.streamSend(SESSION_STREAM, this.wq.peek(), false);
    } catch (e) {
      const err = streamErrorCode(e);
      if (err.kind === 'stopped') this.peerEnded('stream_stopped', err.code);
      return;
    }
    if (n === null || n === 0) return;
    this.wq.consume(n);
    if (this.needDrain && this.wq.length <= this.lwm) {
      this.needDrain = false;
      this.onDrain?.();
    }
  }

  /** Client: open the session stream once the handshake is done. */
  openSession(): void {
    try {
      this.q.streamSend(SESSION_STREAM, EMPTY, false);
    } catch {
      // reported at flush
    }
    this.sessionOpen = true;
  }

  /** The peer finished, reset or stopped the session stream: end the connection. */
  private peerEnded(reason: string, code: number): void {
    if (this.closeCalled) return;
    this.pendingInfo ??= { code, isApp: true, byPeer: true, reason };
    this.closeReq = { code: 0, reason };
    this.closeForced = true;
    this.wq.clear();
  }

  private checkClosed(): void {
    const q = this.q;
    if (!this.appClosed) {
      let info = this.pendingInfo;
      if (info === null && (q.isDraining() || q.isClosed())) info = nativeCloseInfo(q);
      if (info !== null) {
        this.appClosed = true;
        this.wq.clear();
        this.ep.connClosed(this, info);
        const cb = this.onClose;
        this.onData = null;
        this.onDrain = null;
        this.onClose = null;
        cb?.(info);
      }
    }
    if (q.isClosed()) {
      this.finalized = true;
      this.ep.removeTimer(this);
      this.ep.finalized(this);
    }
  }
}

function nativeCloseInfo(q: NativeConnection): CloseInfo {
  const pe = q.peerError();
  if (pe !== null) {
    return {
      code: pe.errorCode,
      isApp: pe.isApp,
      byPeer: true,
      reason: dec.decode(pe.reason) || (pe.isApp ? 'peer' : 'peer_transport_error'),
    };
  }
  if (q.isTimedOut()) return { code: 0, isApp: false, byPeer: false, reason: 'idle_timeout' };
  const le = q.localError();
  if (le !== null) {
    return {
      code: le.errorCode,
      isApp: le.isApp,
      byPeer: false,
      reason: dec.decode(le.reason) || 'local_transport_error',
    };
  }
  return { code: 0, isApp: false, byPeer: false, reason: 'closed' };
}

/** RTT of the active path (0 before there is one). pathStats() is the costly part of connCounters. */
export function connRtt(q: NativeConnection): number {
  try {
    for (const p of q.pathStats()) if (p.active) return p.rtt;
  } catch {
    // no path yet
  }
  return 0;
}

export function connCounters(q: NativeConnection, withRtt = true): TransportCounters {
  const s = q.stats();
  const rtt = withRtt ? connRtt(q) : 0;
  return {
    packetsSent: s.sent,
    packetsReceived: s.recv,
    bytesSent: s.sentBytes,
    bytesReceived: s.recvBytes,
    packetsLost: s.lost,
    rttMs: rtt,
  };
}
