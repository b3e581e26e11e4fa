/**
 * QUIC server endpoint: one UDP socket, routing of datagrams to connections by
 * destination connection id, accept with optional stateless retry, version
 * negotiation, and connection-id issuance for migration.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { isIPv6 } from 'node:net';
import { CidTable, cidKey, isLongHeader, shortHeaderDcidKey } from './cid-table.js';
import { connCounters, QuicConn } from './connection.js';
import { EDGE_REFUSALS, EdgeGuard, type EdgeRefusal, sourceKey } from './edge-guard.js';
import { Endpoint, syncLookup } from './endpoint.js';
import {
  CID_LEN,
  checkPayload,
  DEFAULT_ALPN,
  loadTls,
  MAX_DATAGRAM,
  type NativeConfig,
  type NativeHostPort,
  type NativeSendInfo,
  quiche,
  serverConfig,
} from './native.js';
import { RetryTokens } from './retry-token.js';
import {
  type CloseInfo,
  type EdgeStats,
  type HostPort,
  type QuicServer,
  type QuicServerOptions,
  type StreamConnection,
  type TransportCounters,
  zeroCounters,
} from './types.js';

const DEFAULT_HWM = 1024 * 1024;
const DEFAULT_IDLE_MS = 30_000;
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Transport error CONNECTION_REFUSED. */
const CONNECTION_REFUSED = 0x2;
/** Spare connection ids handed to each client (for migration). */
const SPARE_CIDS = 2;
/** Connections whose RTT is averaged into counters().rttMs. */
const RTT_SAMPLE = 64;

class ServerEndpoint extends Endpoint implements QuicServer {
  onConnection: ((conn: StreamConnection) => void) | null = null;
  private socket: dgram.Socket | null = null;
  private local: NativeHostPort = { host: '', port: 0 };
  private readonly table = new CidTable<QuicConn>();
  private readonly conns = new Set<QuicConn>();
  private readonly config: NativeConfig;
  private readonly tokens: RetryTokens | null;
  private readonly hwm: number;
  private readonly refuseCode: number;
  private readonly guard: EdgeGuard;
  private readonly handshakeTimeoutMs: number;
  /** Connections whose handshake is in progress, oldest first (reaped after handshakeTimeoutMs). */
  private readonly halfOpen = new Set<QuicConn>();
  private reaper: NodeJS.Timeout | null = null;
  private retriesSent = 0;
  private readonly refused = Object.fromEntries(EDGE_REFUSALS.map((r) => [r, 0])) as Record<
    EdgeRefusal,
    number
  >;
  private closing = false;
  private readonly done: TransportCounters = zeroCounters();

  constructor(private readonly opts: QuicServerOptions) {
    super(checkPayload(opts.maxUdpPayload));
    this.config = serverConfig({
      tls: loadTls(opts.tls),
      alpn: opts.alpn ?? DEFAULT_ALPN,
      idleTimeoutMs: opts.idleTimeoutMs ?? DEFAULT_IDLE_MS,
      maxUdpPayload: this.maxDatagram,
    });
    const retryAboveRate = opts.retry ? 0 : (opts.retryAboveRate ?? Number.POSITIVE_INFINITY);
    this.tokens = retryAboveRate !== Number.POSITIVE_INFINITY ? new RetryTokens() : null;
    this.hwm = opts.highWaterMark ?? DEFAULT_HWM;
    this.refuseCode = opts.refuseCode ?? CONNECTION_REFUSED;
    this.handshakeTimeoutMs = opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.guard = new EdgeGuard({
      maxConnections: opts.maxConnections ?? 0,
      maxConnectionsPerIp: opts.maxConnectionsPerIp ?? 0,
      maxHandshakesPerIp: opts.maxHandshakesPerIp ?? 0,
      maxHandshakes: opts.maxHandshakes ?? 0,
      retryAboveRate,
    });
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  listen(): Promise<HostPort> {
    if (this.socket !== null) return Promise.reject(new Error('already listening'));
    const socket = dgram.createSocket({
      type: isIPv6(this.opts.host) ? 'udp6' : 'udp4',
      lookup: syncLookup as never,
      recvBufferSize: 4 * 1024 * 1024,
      sendBufferSize: 4 * 1024 * 1024,
    });
    this.socket = socket;
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ port: this.opts.port, address: this.opts.host }, () => {
        socket.off('error', reject);
        socket.on('error', () => {
          // Per-datagram send errors (e.g. ICMP unreachable) are not fatal.
        });
        socket.on('message', this.onMessage);
        const a = socket.address();
        this.local = { host: a.address, port: a.port };
        resolve({ host: a.address, port: a.port });
      });
    });
  }

  async close(code = 0, reason = ''): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const c of this.conns) c.forceClose(code, reason, c.established);
    this.flushNow();
    this.stopTimer();
    if (this.reaper !== null) clearTimeout(this.reaper);
    this.reaper = null;
    const socket = this.socket;
    this.socket = null;
    if (socket !== null) await new Promise<void>((resolve) => socket.close(() => resolve()));
    for (const c of this.conns) this.finalized(c);
  }

  edgeStats(): EdgeStats {
    return {
      connections: this.conns.size,
      handshaking: this.guard.handshaking,
      retriesSent: this.retriesSent,
      refused: { ...this.refused },
    };
  }

  counters(): TransportCounters {
    const t = { ...this.done };
    let rtt = 0;
    let n = 0;
    for (const c of this.conns) {
      // The mean RTT is taken over a sample: pathStats() per connection made this
      // call (polled every second by the metrics) a few % of the gateway's CPU at 1,000 sessions.
      const k = connCounters(c.q, n < RTT_SAMPLE);
      t.packetsSent += k.packetsSent;
      t.packetsReceived += k.packetsReceived;
      t.bytesSent += k.bytesSent;
      t.bytesReceived += k.bytesReceived;
      t.packetsLost += k.packetsLost;
      if (n < RTT_SAMPLE) {
        rtt += k.rttMs;
        n++;
      }
    }
    t.rttMs = n > 0 ? rtt / n : 0;
    return t;
  }

  protected transmit(buf: Buffer, off: number, len: number, info: NativeSendInfo): void {
    this.socket?.send(buf, off, len, info.to.port, info.to.host);
  }

  protected sendQueuesIdle(): boolean {
    return this.socket === null || this.socket.getSendQueueCount() === 0;
  }

  private readonly onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    try {
      const key = shortHeaderDcidKey(msg, CID_LEN);
      if (key !== null) {
        const c = this.table.get(key);
        if (c !== undefined) c.recv(msg, rinfo.address, rinfo.port, this.local);
        return;
      }
      if (!isLongHeader(msg)) return;
      this.onLongHeader(msg, rinfo);
    } catch {
      // Garbage must never take the server down.
    }
  };

  private onLongHeader(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 7) return;
    const version = msg.readUInt32BE(1);
    if (version !== 0 && !quiche.versionIsSupported(version)) {
      this.negotiateVersion(msg, rinfo);
      return;
    }
    let hdr: ReturnType<typeof quiche.Header.fromSlice>;
    try {
      hdr = quiche.Header.fromSlice(msg, CID_LEN);
    } catch {
      return;
    }
    const c = this.table.getCid(hdr.dcid);
    if (c !== undefined) {
      c.recv(msg, rinfo.address, rinfo.port, this.local);
      return;
    }
    if (hdr.ty !== quiche.Type.Initial || this.closing || this.socket === null) return;
    // RFC 9000 14.1: a client Initial comes in a datagram of at least 1200 bytes.
    if (msg.length < quiche.MIN_CLIENT_INITIAL_LEN) return;
    // Limits are checked before anything is allocated: an Initial beyond them costs
    // a map lookup and is dropped without an answer (the client retries or times out).
    const key = sourceKey(rinfo.address);
    const refusal = this.guard.refusal(key);
    if (refusal !== null && refusal !== 'max_connections') {
      this.refused[refusal]++;
      return;
    }
    let odcid: Buffer | null = null;
    let scid: Buffer;
    const token = hdr.token;
    if (this.tokens !== null && token !== undefined && token.length > 0) {
      odcid = this.tokens.validate(token, rinfo.address, rinfo.port);
      if (odcid === null || hdr.dcid.length !== CID_LEN) {
        this.refused.retry_token_invalid++;
        return;
      }
      scid = Buffer.from(hdr.dcid);
    } else if (this.tokens !== null && this.guard.attempt(performance.now())) {
      // Stateless retry: the client must echo a token bound to its address before
      // any state is kept for it. The Retry is smaller than the Initial (no amplification).
      const newScid = randomBytes(CID_LEN);
      const tok = this.tokens.mint(rinfo.address, rinfo.port, hdr.dcid);
      const out = Buffer.allocUnsafe(MAX_DATAGRAM);
      const n = quiche.retry(hdr.scid, hdr.dcid, newScid, tok, hdr.version, out);
      this.socket.send(out, 0, n, rinfo.port, rinfo.address);
      this.retriesSent++;
      return;
    } else {
      scid = randomBytes(CID_LEN);
    }
    const remote = { host: rinfo.address, port: rinfo.port };
    const q = quiche.Connection.accept(scid, odcid, this.local, remote, this.config);
    const conn = new QuicConn(this, q, {
      id: Buffer.from(odcid ?? hdr.dcid).toString('hex'),
      remote,
      isServer: true,
      highWaterMark: this.hwm,
    });
    conn.sourceKey = key;
    conn.openedAt = performance.now();
    this.conns.add(conn);
    this.guard.opened(key);
    this.halfOpen.add(conn);
    conn.cidKeys.push(this.table.add(scid, conn));
    // Until it learns our id the client addresses us by its own initial dcid.
    if (odcid === null) conn.cidKeys.push(this.table.add(hdr.dcid, conn));
    conn.recv(msg, rinfo.address, rinfo.port, this.local);
    if (refusal === 'max_connections') this.discard(conn, refusal, 'server busy');
    else this.armReaper();
  }

  /**
   * Close a connection that never became established and drop its state now
   * rather than after quiche's draining period: one CONNECTION_CLOSE goes out.
   */
  private discard(conn: QuicConn, why: EdgeRefusal, reason: string): void {
    this.refused[why]++;
    conn.forceClose(this.refuseCode, reason, false);
    conn.flush();
    if (conn.finalized) return;
    conn.finalized = true;
    this.finalized(conn);
  }

  private armReaper(): void {
    if (this.reaper !== null || this.closing) return;
    const oldest = this.halfOpen.values().next();
    if (oldest.done === true || !Number.isFinite(this.handshakeTimeoutMs)) return;
    const due = oldest.value.openedAt + this.handshakeTimeoutMs - performance.now();
    this.reaper = setTimeout(this.reap, Math.max(0, Math.ceil(due)));
    this.reaper.unref();
  }

  /** Handshakes still unfinished after handshakeTimeoutMs are dropped, oldest first. */
  private readonly reap = (): void => {
    this.reaper = null;
    const now = performance.now();
    for (const c of this.halfOpen) {
      if (c.openedAt + this.handshakeTimeoutMs > now) break;
      this.discard(c, 'handshake_timeout', 'handshake timeout');
    }
    this.armReaper();
  };

  private negotiateVersion(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < quiche.MIN_CLIENT_INITIAL_LEN || this.socket === null) return;
    const dcidLen = msg[5]!;
    if (dcidLen > 255 || msg.length < 6 + dcidLen + 1) return;
    const dcid = msg.subarray(6, 6 + dcidLen);
    const scidLen = msg[6 + dcidLen]!;
    if (msg.length < 7 + dcidLen + scidLen) return;
    const scid = msg.subarray(7 + dcidLen, 7 + dcidLen + scidLen);
    const out = Buffer.allocUnsafe(MAX_DATAGRAM);
    const n = quiche.negotiateVersion(scid, dcid, out);
    this.socket.send(out, 0, n, rinfo.port, rinfo.address);
  }

  established(conn: QuicConn): void {
    if (this.halfOpen.delete(conn)) this.guard.established(conn.sourceKey);
    this.replenishCids(conn);
    // Announced at the handshake, not at the first stream byte: the gateway's
    // start_timeout must also cover a client that never opens its stream.
    if (this.closing) {
      conn.forceClose(0, 'server closing');
      return;
    }
    this.onConnection?.(conn);
  }

  private replenishCids(conn: QuicConn): void {
    this.issueCids(conn, SPARE_CIDS, (cid) => conn.cidKeys.push(this.table.add(cid, conn)));
  }

  maintainPaths(conn: QuicConn): void {
    if (!conn.pathCheck && conn.migrations === 0) return;
    const q = conn.q;
    conn.pathCheck = false;
    for (let ev = q.pathEventNext(); ev != null; ev = q.pathEventNext()) {
      if (ev.type === 'PeerMigrated') conn.migrated(ev.new);
    }
    let retired = false;
    for (let cid = q.retiredScidNext(); cid != null; cid = q.retiredScidNext()) {
      const key = cidKey(cid);
      this.table.delete(key, conn);
      const i = conn.cidKeys.indexOf(key);
      if (i >= 0) conn.cidKeys.splice(i, 1);
      retired = true;
    }
    if (retired) this.replenishCids(conn);
  }

  sessionOpened(_conn: QuicConn): void {}

  connClosed(_conn: QuicConn, _info: CloseInfo): void {}

  finalized(conn: QuicConn): void {
    if (!this.conns.delete(conn)) return;
    this.guard.closed(conn.sourceKey, this.halfOpen.delete(conn));
    for (const key of conn.cidKeys) this.table.delete(key, conn);
    conn.cidKeys.length = 0;
    this.removeTimer(conn);
    try {
      const k = connCounters(conn.q);
      this.done.packetsSent += k.packetsSent;
      this.done.packetsReceived += k.packetsReceived;
      this.done.bytesSent += k.bytesSent;
      this.done.bytesReceived += k.bytesReceived;
      this.done.packetsLost += k.packetsLost;
    } catch {
      // stats unavailable
    }
  }
}

export function createQuicServer(opts: QuicServerOptions): QuicServer {
  return new ServerEndpoint(opts);
}
