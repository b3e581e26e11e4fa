/**
 * The narrow face of the QUIC engine. Nothing outside src/transport/quic imports
 * @matrixai/quic; the gateway and the client SDK see only these types.
 *
 * A connection carries exactly one application stream (the session stream, the
 * first bidirectional stream the client opens). Bytes written during one
 * event-loop turn are coalesced and leave in one stream write at the engine's
 * per-turn flush.
 */

export interface HostPort {
  host: string;
  port: number;
}

export interface CloseInfo {
  /** Application close code (docs/protocol.md section 6) or transport error code. */
  code: number;
  /** True when `code` is an application code. */
  isApp: boolean;
  /** True when the peer closed (or reset) rather than this side. */
  byPeer: boolean;
  /** Why: a peer reason, 'idle_timeout', 'stream_finished', 'local' ... */
  reason: string;
}

export interface TransportCounters {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  packetsLost: number;
  rttMs: number;
}

/** Counters of nothing yet (a fresh total, or the baseline of a delta). */
export function zeroCounters(): TransportCounters {
  return { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0, packetsLost: 0, rttMs: 0 };
}

/** One QUIC connection with its session stream, as the rest of the gateway sees it. */
export interface StreamConnection {
  /** Stable id for logs and metrics (hex of the original destination connection id). */
  readonly id: string;
  /** Current peer address; changes on migration. */
  readonly remote: HostPort;
  /** Bytes queued by write() and not yet accepted by QUIC flow control. */
  readonly bufferedBytes: number;
  readonly closed: boolean;
  /**
   * Queue bytes on the session stream. They leave at this turn's flush, together
   * with everything else written this turn. Returns false once bufferedBytes is
   * above the high-water mark: the caller should hold back until `drain`.
   * Writes after close are dropped and return false.
   */
  write(data: Uint8Array): boolean;
  /** Close the connection with an application code; pending writes are flushed first. */
  close(code: number, reason?: string): void;
  /** Counters for metrics. */
  counters(): TransportCounters;
  /** Stream bytes in arrival order (chunks may split or coalesce frames). */
  onData: ((chunk: Uint8Array) => void) | null;
  /** bufferedBytes fell below the low-water mark after a write() returned false. */
  onDrain: (() => void) | null;
  /** The connection is gone (exactly once). */
  onClose: ((info: CloseInfo) => void) | null;
  /** The peer's address changed (connection migration). */
  onMigrate: ((from: HostPort, to: HostPort) => void) | null;
}

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface TlsPem {
  certPem: string;
  keyPem: string;
}

export interface QuicServerOptions {
  host: string;
  port: number;
  tls: TlsFiles | TlsPem;
  alpn?: string[];
  /** Idle timeout in ms (QUIC max_idle_timeout). */
  idleTimeoutMs?: number;
  /** Require address validation via stateless retry before accepting (always). */
  retry?: boolean;
  /**
   * New connections a second (over the last second) above which an Initial without
   * a token is answered with a stateless Retry; 0 = always. Default: never (unless `retry`).
   */
  retryAboveRate?: number;
  /** Connections (half-open or established) from one source (IPv4 address or IPv6 /64); default no limit. */
  maxConnectionsPerIp?: number;
  /** Handshakes in progress from one source; default no limit. */
  maxHandshakesPerIp?: number;
  /** Handshakes in progress from all sources; default no limit. */
  maxHandshakes?: number;
  /** A handshake not complete within this is dropped (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Per-connection write buffer high-water mark in bytes. */
  highWaterMark?: number;
  /** Upper bound on connections; further handshakes are refused with `refuseCode`. */
  maxConnections?: number;
  /** Transport error code for refused handshakes (default 0x2, CONNECTION_REFUSED). */
  refuseCode?: number;
  /**
   * Largest UDP payload to send/accept (default 1350). Larger values cut packet
   * counts on paths known to carry them (loopback, jumbo-frame LANs) only.
   */
  maxUdpPayload?: number;
}

/** What the server refused before the application saw a connection (docs/security-edge.md). */
export interface EdgeStats {
  /** Connection state held, every kind. */
  connections: number;
  /** Handshakes in progress. */
  handshaking: number;
  /** Stateless Retry packets sent. */
  retriesSent: number;
  /**
   * Initials dropped or connections refused, by reason: ip_connections, ip_handshakes,
   * handshakes, max_connections, handshake_timeout, retry_token_invalid.
   */
  refused: Record<string, number>;
}

export interface QuicClientOptions {
  host: string;
  port: number;
  alpn?: string[];
  /** PEM of the CA to verify the server against; required unless `insecure`. */
  caPem?: string;
  /** Skip certificate verification. Only by explicit choice (tests, demos). */
  insecure?: boolean;
  serverName?: string;
  idleTimeoutMs?: number;
  /** Keep-alive (PING) interval in ms; 0 disables. */
  keepAliveMs?: number;
  highWaterMark?: number;
  /** Handshake deadline in ms. */
  connectTimeoutMs?: number;
  /** Largest UDP payload to send/accept (default 1350); see QuicServerOptions. */
  maxUdpPayload?: number;
  /** Local address to send from (default: chosen from the server's address). */
  localHost?: string;
}

export interface QuicServer {
  /** Called for every connection once its handshake completes; session stream bytes follow via onData. */
  onConnection: ((conn: StreamConnection) => void) | null;
  listen(): Promise<HostPort>;
  /** Close every connection with `code` and stop listening. */
  close(code?: number, reason?: string): Promise<void>;
  readonly connectionCount: number;
  counters(): TransportCounters;
  edgeStats(): EdgeStats;
}
