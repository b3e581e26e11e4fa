/**
 * QUIC client endpoint: one connected UDP socket (two for a moment during a
 * migration) and one connection whose session stream is opened right after the
 * handshake.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { QuicConn } from './connection.js';
import { Endpoint, syncLookup } from './endpoint.js';
import {
  CID_LEN,
  checkPayload,
  clientConfig,
  DEFAULT_ALPN,
  type NativeHostPort,
  type NativeSendInfo,
  quiche,
} from './native.js';
import type { CloseInfo, QuicClientOptions, StreamConnection } from './types.js';

const DEFAULT_HWM = 1024 * 1024;
const DEFAULT_IDLE_MS = 30_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** How long the previous socket keeps serving the old path after a rebind. */
const OLD_SOCKET_GRACE_MS = 3000;
/** Spare connection ids handed to the server (each migration uses one). */
const SPARE_CIDS = 2;

export type ClientConnection = StreamConnection & {
  /** Move to a new local UDP port (active connection migration). */
  rebind(): Promise<void>;
};

interface Bound {
  sock: dgram.Socket;
  local: NativeHostPort;
}

class ClientEndpoint extends Endpoint {
  conn!: QuicConn;
  private cur!: Bound;
  private readonly old: Bound[] = [];
  private remote!: NativeHostPort;
  private keepAlive: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private settle: { resolve: () => void; reject: (e: Error) => void } | null = null;

  constructor(private readonly opts: QuicClientOptions) {
    super(checkPayload(opts.maxUdpPayload));
  }

  async open(): Promise<ClientConnection> {
    const o = this.opts;
    if (!o.insecure && !o.caPem) throw new Error('connectQuic: caPem is required unless insecure is set');
    const family = isIP(o.host);
    const host = family !== 0 ? o.host : (await lookup(o.host)).address;
    this.remote = { host, port: o.port };
    this.cur = await this.bindSocket();
    const config = clientConfig({
      alpn: o.alpn ?? DEFAULT_ALPN,
      idleTimeoutMs: o.idleTimeoutMs ?? DEFAULT_IDLE_MS,
      caPem: o.caPem,
      insecure: o.insecure === true,
      maxUdpPayload: this.maxDatagram,
    });
    const serverName = o.serverName ?? (family === 0 ? o.host : 'localhost');
    const q = quiche.Connection.connect(
      serverName,
      randomBytes(CID_LEN),
      this.cur.local,
      this.remote,
      config,
    );
    const conn = new QuicConn(this, q, {
      id: Buffer.from(q.destinationId()).toString('hex'),
      remote: this.remote,
      isServer: false,
      highWaterMark: o.highWaterMark ?? DEFAULT_HWM,
    });
    this.conn = conn;
    const ready = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.connectTimer = setTimeout(() => {
      this.fail(new Error('QUIC connect timeout'));
      conn.forceClose(0, 'connect timeout', false);
    }, o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
    this.markDirty(conn);
    await ready;
    const ka = o.keepAliveMs ?? 0;
    if (ka > 0) {
      this.keepAlive = setInterval(() => {
        if (conn.appClosed) return;
        try {
          conn.q.sendAckEliciting();
        } catch {
          return;
        }
        this.markDirty(conn);
      }, ka);
      this.keepAlive.unref();
    }
    return Object.assign(conn, { rebind: () => this.rebind() });
  }

  private bindSocket(): Promise<Bound> {
    const v6 = isIP(this.remote.host) === 6;
    const loopback = this.remote.host.startsWith('127.') || this.remote.host === '::1';
    const address =
      this.opts.localHost ??
      (loopback ? this.remote.host.replace(/^127\..*$/, '127.0.0.1') : v6 ? '::' : '0.0.0.0');
    const sock = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', lookup: syncLookup as never });
    return new Promise((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: 0, address }, () => {
        sock.connect(this.remote.port, this.remote.host, () => {
          sock.off('error', reject);
          sock.on('error', () => {
            // ICMP errors surface as socket errors; QUIC timers handle loss.
          });
          const a = sock.address();
          const bound: Bound = { sock, local: { host: a.address, port: a.port } };
          sock.on('message', (msg, rinfo) => {
            try {
              this.conn?.recv(msg, rinfo.address, rinfo.port, bound.local);
            } catch {
              // never let a datagram throw out of the socket
            }
          });
          resolve(bound);
        });
      });
    });
  }

  private async rebind(): Promise<void> {
    const conn = this.conn;
    if (conn.appClosed) throw new Error('connection closed');
    const next = await this.bindSocket();
    try {
      conn.q.migrateSource(next.local);
    } catch (e) {
      next.sock.close();
      throw new Error(`QUIC migration refused: ${(e as Error).message}`);
    }
    const prev = this.cur;
    this.cur = next;
    this.old.push(prev);
    setTimeout(() => this.dropOld(prev), OLD_SOCKET_GRACE_MS).unref();
    this.markDirty(conn);
  }

  private dropOld(b: Bound): void {
    const i = this.old.indexOf(b);
    if (i < 0) return;
    this.old.splice(i, 1);
    try {
      b.sock.close();
    } catch {
      // closed
    }
  }

  protected transmit(buf: Buffer, off: number, len: number, info: NativeSendInfo): void {
    let b = this.cur;
    if (info.from.port !== b.local.port) {
      for (const o of this.old) if (o.local.port === info.from.port) b = o;
    }
    b.sock.send(buf, off, len);
  }

  protected sendQueuesIdle(): boolean {
    try {
      if (this.cur.sock.getSendQueueCount() > 0) return false;
      for (const o of this.old) if (o.sock.getSendQueueCount() > 0) return false;
    } catch {
      // a socket closed by a failed connect while a flush was scheduled: nothing to wait for
    }
    return true;
  }

  established(conn: QuicConn): void {
    conn.openSession();
    this.issueCids(conn, SPARE_CIDS);
    // Settle after this flush: a connection refused right after the handshake
    // must reject rather than hand out an already closed connection.
    queueMicrotask(() => {
      if (conn.appClosed) return;
      if (this.connectTimer !== null) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      const s = this.settle;
      this.settle = null;
      s?.resolve();
    });
  }

  sessionOpened(): void {}

  maintainPaths(conn: QuicConn): void {
    if (!conn.pathCheck && this.old.length === 0) return;
    conn.pathCheck = false;
    const q = conn.q;
    while (q.pathEventNext() != null) {
      // The client moves itself; nothing to report.
    }
    let retired = false;
    while (q.retiredScidNext() != null) retired = true;
    if (retired) this.issueCids(conn, SPARE_CIDS);
  }

  private fail(e: Error): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
    const s = this.settle;
    this.settle = null;
    s?.reject(e);
  }

  connClosed(_conn: QuicConn, info: CloseInfo): void {
    this.fail(new Error(`QUIC handshake failed: ${info.reason} (code 0x${info.code.toString(16)})`));
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
    // Let the process exit while the connection drains.
    this.cur.sock.unref();
    for (const o of this.old) o.sock.unref();
  }

  finalized(): void {
    this.stopTimer();
    for (const b of [this.cur, ...this.old]) {
      try {
        b.sock.close();
      } catch {
        // closed
      }
    }
    this.old.length = 0;
  }
}

export function connectQuic(opts: QuicClientOptions): Promise<ClientConnection> {
  return new ClientEndpoint(opts).open();
}
