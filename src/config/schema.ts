// GatewayConfig: the typed, validated configuration (camelCase, durations in
// milliseconds), its defaults, and FIELDS, the one table every layer (YAML, env,
// flags, docs) is driven from. YAML keys are snake_case (seed sections 5.5, 5.6, 6.5.1).

import { isIPv4, isIPv6 } from 'node:net';

export type ServiceName = 'hello' | 'business' | 'zone';
export const SERVICE_NAMES: readonly ServiceName[] = ['hello', 'business', 'zone'];

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export type AuthMode = 'none' | 'jwt';
export type BackupMode = 'primary' | 'backup';

export interface ServerConfig {
  /** QUIC (UDP) listen address, "host:port"; ":port" = all interfaces. Use parseAddr. */
  quicAddr: string;
  httpAddr: string;
  grpcAddr: string;
  metricsAddr: string;
  /** PEM certificate file; "" (with keyFile "") = self-signed made at start (ensureTls). */
  certFile: string;
  keyFile: string;
  sessionTimeoutMs: number;
  ackTimeoutMs: number;
  maxRetries: number;
  resumeWindowMs: number;
  startTimeoutMs: number;
  maxQueue: number;
  maxFrameBytes: number;
  /** Per-session byte budget of pending reliable pushes (queued, unacked, held); more is QUEUE_FULL. */
  maxQueueBytes: number;
  /** A repeated producer push_id within this window is delivered once (docs/protocol.md v1.1). */
  pushDedupWindowMs: number;
  heartbeatIntervalMs: number;
  idleTimeoutMs: number;
  drainTimeoutMs: number;
  /** New connections a second above which clients must pass a stateless Retry; 0 = always. */
  retryAboveRate: number;
}

export interface UpstreamServicesConfig {
  /** "host:port" lists; an empty list = that service runs as an in-process demo upstream. */
  hello: string[];
  business: string[];
  zone: string[];
  /** Overrides of the action -> service table (src/machines/routing.ts DEFAULT_ROUTES); only the overrides. */
  routes: Record<string, ServiceName>;
}

export interface OverloadProtectionConfig {
  enabled: boolean;
  maxConnections: number;
  connectionWarningThreshold: number;
  maxQps: number;
  qpsWarningThreshold: number;
  qpsWindowSeconds: number;
  maxSessionQps: number;
  maxUpstreamConcurrent: number;
  upstreamWarningThreshold: number;
  maxUpstreamQueue: number;
  upstreamTimeoutMs: number;
  // QUIC edge limits (docs/security-edge.md)
  maxConnectionsPerIp: number;
  maxHandshakesPerIp: number;
  maxHandshakes: number;
  handshakeTimeoutMs: number;
  /** Share of max_connections (percent) only connections with a started session may hold. */
  reservedStartedPercent: number;
  startTimeoutFloorMs: number;
  maxFramesPerSecond: number;
  frameBurst: number;
}

export interface AuthConfig {
  mode: AuthMode;
  jwtSecret: string;
  /** When set, a token's `aud` must match; likewise `iss` for jwtIssuer. */
  jwtAudience: string;
  jwtIssuer: string;
  /** Longest accepted exp − iat (exp − now without iat); 0 = no limit. */
  jwtMaxLifetimeMs: number;
  /** RS256/ES256 instead of HS256: a PEM public key, or a JWKS file (one of the three key sources). */
  jwtPublicKeyFile: string;
  jwksFile: string;
}

export interface NatsConfig {
  /** "" = in-process event log; otherwise NATS server URL(s), comma separated. */
  url: string;
  stream: string;
  subjectPrefix: string;
  /** Replica count of every JetStream stream and KV bucket the gateway creates (1..5). */
  replicas: number;
  /** Extra prefix allowed for the Gatesvr-Reply header besides `_INBOX.` ("" = none). */
  replyPrefix: string;
  /** A session event store not confirmed within this fails: producers get UNAVAILABLE. */
  storeTimeoutMs: number;
  /** TLS to NATS: CA bundle (PEM) trusted for the server; any tls_* file turns TLS on. */
  tlsCaFile: string;
  /** Client certificate and key (PEM) when NATS verifies clients. */
  tlsCertFile: string;
  tlsKeyFile: string;
  /** One authentication method at most (credentials never only in the URL): */
  credsFile: string;
  token: string;
  nkeySeedFile: string;
  user: string;
  password: string;
}

export interface BackupConfig {
  enabled: boolean;
  mode: BackupMode;
  serverId: string;
  heartbeat: {
    intervalMs: number;
    timeoutMs: number;
    /** Seed compatibility only: accepted, unused (the lease lives in NATS). */
    peerAddr: string;
  };
  /** Seed compatibility only: accepted, unused (session events flow through NATS). */
  sync: {
    peerAddr: string;
    batchSize: number;
    timeoutMs: number;
    bufferSize: number;
  };
}

export interface LogConfig {
  level: LogLevel;
  /** "" = JSON lines on stdout; otherwise a file rotated at maxSizeMb keeping maxFiles. */
  file: string;
  maxSizeMb: number;
  maxFiles: number;
}

export interface AdminConfig {
  token: string;
  loopbackOnly: boolean;
  /** Host names (besides localhost, 127.0.0.1, ::1 and the http_addr host) the HTTP server answers to; "*" = any. */
  allowedHosts: string[];
}

export interface InspectorConfig {
  enabled: boolean;
}

/** Seed section 5.4 compatibility: accepted and validated; the gateway has no worker pool. */
export interface AsyncConfig {
  maxWorkers: number;
  maxQueueSize: number;
  taskTimeoutMs: number;
}

/** Guards the gRPC GatewayService (docs/protocol.md section 5, push API authentication). */
export interface PushApiConfig {
  /** Bearer token every GatewayService call must carry; "" = none (see token_file). */
  token: string;
  /** File holding the token (read at start, surrounding whitespace trimmed). */
  tokenFile: string;
  /** TLS for the push server: both set = TLS, both empty = plaintext. */
  certFile: string;
  keyFile: string;
  /** CA bundle (PEM) of client certificates; set = mTLS, a client certificate is required. */
  clientCaFile: string;
}

/** TLS of the gateway's calls to upstream services (every configured address). */
export interface UpstreamTlsConfig {
  /** On when true, or when ca_file or cert_file is set. */
  enabled: boolean;
  /** CA bundle (PEM) trusted for upstream servers; "" = the system roots. */
  caFile: string;
  /** Client certificate and key (PEM) for upstreams that require mTLS. */
  certFile: string;
  keyFile: string;
  /** Name checked against the upstream certificates instead of each target's host ("" = the host). */
  serverName: string;
}

export interface GatewayConfig {
  server: ServerConfig;
  upstreamServices: UpstreamServicesConfig;
  overloadProtection: OverloadProtectionConfig;
  auth: AuthConfig;
  nats: NatsConfig;
  backup: BackupConfig;
  log: LogConfig;
  admin: AdminConfig;
  inspector: InspectorConfig;
  async: AsyncConfig;
  pushApi: PushApiConfig;
  upstreamTls: UpstreamTlsConfig;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Built-in defaults (deep-frozen). loadConfig returns a fresh mutable copy. */
export const DEFAULTS: Readonly<GatewayConfig> = deepFreeze({
  server: {
    quicAddr: ':8453',
    httpAddr: ':8080',
    grpcAddr: '127.0.0.1:8092',
    metricsAddr: ':9090',
    certFile: '',
    keyFile: '',
    sessionTimeoutMs: 5 * 60_000,
    ackTimeoutMs: 30_000,
    maxRetries: 3,
    resumeWindowMs: 60_000,
    startTimeoutMs: 5_000,
    maxQueue: 1000,
    maxFrameBytes: 1_048_576,
    maxQueueBytes: 8 * 1_048_576,
    pushDedupWindowMs: 10 * 60_000,
    heartbeatIntervalMs: 30_000,
    idleTimeoutMs: 60_000,
    drainTimeoutMs: 10_000,
    retryAboveRate: 200,
  },
  upstreamServices: { hello: [], business: [], zone: [], routes: {} },
  overloadProtection: {
    enabled: true,
    maxConnections: 1000,
    connectionWarningThreshold: 800,
    maxQps: 2000,
    qpsWarningThreshold: 1600,
    qpsWindowSeconds: 10,
    maxSessionQps: 200,
    maxUpstreamConcurrent: 100,
    upstreamWarningThreshold: 80,
    maxUpstreamQueue: 10_000,
    upstreamTimeoutMs: 30_000,
    maxConnectionsPerIp: 256,
    maxHandshakesPerIp: 32,
    maxHandshakes: 1000,
    handshakeTimeoutMs: 5_000,
    reservedStartedPercent: 10,
    startTimeoutFloorMs: 1_000,
    maxFramesPerSecond: 2_000,
    frameBurst: 4_000,
  },
  auth: {
    mode: 'none',
    jwtSecret: '',
    jwtAudience: '',
    jwtIssuer: '',
    jwtMaxLifetimeMs: 24 * 3_600_000,
    jwtPublicKeyFile: '',
    jwksFile: '',
  },
  nats: {
    url: '',
    stream: 'GATESVR',
    subjectPrefix: 'gatesvr',
    replicas: 1,
    replyPrefix: '',
    storeTimeoutMs: 5_000,
    tlsCaFile: '',
    tlsCertFile: '',
    tlsKeyFile: '',
    credsFile: '',
    token: '',
    nkeySeedFile: '',
    user: '',
    password: '',
  },
  backup: {
    enabled: false,
    mode: 'primary',
    serverId: 'gate-001',
    heartbeat: { intervalMs: 2_000, timeoutMs: 6_000, peerAddr: '' },
    sync: { peerAddr: '', batchSize: 50, timeoutMs: 200, bufferSize: 1000 },
  },
  log: { level: 'info', file: '', maxSizeMb: 3, maxFiles: 5 },
  admin: { token: '', loopbackOnly: true, allowedHosts: [] },
  inspector: { enabled: false },
  async: { maxWorkers: 0, maxQueueSize: 10_000, taskTimeoutMs: 30_000 },
  pushApi: { token: '', tokenFile: '', certFile: '', keyFile: '', clientCaFile: '' },
  upstreamTls: { enabled: false, caFile: '', certFile: '', keyFile: '', serverName: '' },
} satisfies GatewayConfig);

/** A fresh, mutable deep copy of DEFAULTS. */
export function defaultConfig(): GatewayConfig {
  return structuredClone(DEFAULTS) as GatewayConfig;
}

// ---------------------------------------------------------------------------
// Addresses

export interface ParsedAddr {
  /** "" = all interfaces (from ":port"); IPv6 literals come without brackets. */
  host: string;
  port: number;
}

export class AddrError extends Error {
  override name = 'AddrError';
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9_-]*[A-Za-z0-9])?)*\.?$/;
const ADDR_HINT = 'use "host:port", ":port" or "[::1]:port"';

/**
 * Parses "host:port", ":port" (all interfaces, host "") or "[v6]:port".
 * With requireHost, ":port" is refused (upstream targets need a host).
 */
export function parseAddr(addr: string, opts: { requireHost?: boolean } = {}): ParsedAddr {
  const text = typeof addr === 'string' ? addr.trim() : '';
  const shown = JSON.stringify(addr);
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text[close + 1] !== ':')
      throw new AddrError(`${shown} is not an address (${ADDR_HINT})`);
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host)) throw new AddrError(`${shown}: "${host}" is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw new AddrError(`${shown} is not an address (${ADDR_HINT})`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw new AddrError(`${shown}: IPv6 hosts need brackets, e.g. "[::1]:8453"`);
    if (host !== '' && !isIPv4(host) && !HOSTNAME.test(host)) {
      throw new AddrError(`${shown}: "${host}" is not a valid host name`);
    }
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new AddrError(`${shown}: port must be a number 0..65535`);
  }
  if (opts.requireHost && host === '')
    throw new AddrError(`${shown}: a host is required (e.g. "localhost:8081")`);
  return { host, port: Number(portText) };
}

/** Joins host and port back, bracketing IPv6 ("::1", 8453 -> "[::1]:8453"). */
export function formatAddr({ host, port }: ParsedAddr): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

// ---------------------------------------------------------------------------
// The field table

export type FieldKind =
  | 'addr' // listen address; ":port" allowed
  | 'hostList' // list of "host:port" (host required); comma separated in env/flags
  | 'nameList' // list of host names or IP literals (no port), or "*"; comma separated in env/flags
  | 'routes' // map action -> service; "a=svc,b=svc" in env/flags
  | 'string'
  | 'path' // file path; "" allowed
  | 'secret' // string never echoed in errors
  | 'name' // [A-Za-z0-9_-]+ (NATS stream, server id)
  | 'subject' // NATS subject prefix: dot-separated name tokens
  | 'natsUrl'
  | 'duration'
  | 'int'
  | 'bool'
  | 'enum';

export interface FieldSpec {
  /** YAML path, snake_case, dot separated: "server.ack_timeout". */
  path: string;
  /** Property path in GatewayConfig: ["server", "ackTimeoutMs"]. */
  prop: readonly string[];
  kind: FieldKind;
  /** Inclusive numeric range (int: value; duration: milliseconds). */
  min?: number;
  max?: number;
  /** Allowed values for kind "enum". */
  values?: readonly string[];
  /** Environment variables, canonical first (GATESVR_ + path upper-cased, "." -> "_"). */
  env: readonly string[];
  /** Dedicated command-line flag (every key also works with --set path=value). */
  flag?: string;
  /** Accepted for seed compatibility; validated but not used by this gateway. */
  compat?: boolean;
  doc: string;
}

const MAX_INT = 2 ** 31 - 1;
const DAY = 86_400_000;

function f(
  path: string,
  prop: string[],
  kind: FieldKind,
  doc: string,
  extra: Partial<Omit<FieldSpec, 'path' | 'prop' | 'kind' | 'doc' | 'env'>> & { aliases?: string[] } = {},
): FieldSpec {
  const { aliases = [], ...rest } = extra;
  const env = [`GATESVR_${path.toUpperCase().replaceAll('.', '_')}`, ...aliases];
  return { path, prop, kind, doc, env, ...rest };
}

export const FIELDS: readonly FieldSpec[] = [
  // server
  f('server.quic_addr', ['server', 'quicAddr'], 'addr', 'QUIC (UDP) listen address for clients.', {
    aliases: ['GATESVR_QUIC_ADDR'],
    flag: 'quic-addr',
  }),
  f(
    'server.http_addr',
    ['server', 'httpAddr'],
    'addr',
    'HTTP listen address: /health, /live, /stats, admin API.',
    {
      aliases: ['GATESVR_HTTP_ADDR'],
      flag: 'http-addr',
    },
  ),
  f(
    'server.grpc_addr',
    ['server', 'grpcAddr'],
    'addr',
    'gRPC GatewayService listen address (pushes from upstreams); loopback unless set.',
    {
      aliases: ['GATESVR_GRPC_ADDR'],
      flag: 'grpc-addr',
    },
  ),
  f('server.metrics_addr', ['server', 'metricsAddr'], 'addr', 'Prometheus /metrics listen address.', {
    aliases: ['GATESVR_METRICS_ADDR'],
    flag: 'metrics-addr',
  }),
  f(
    'server.cert_file',
    ['server', 'certFile'],
    'path',
    'TLS certificate (PEM). Empty with key_file empty = self-signed at start.',
    {
      aliases: ['GATESVR_CERT_FILE'],
      flag: 'cert-file',
    },
  ),
  f('server.key_file', ['server', 'keyFile'], 'path', 'TLS private key (PEM) matching cert_file.', {
    aliases: ['GATESVR_KEY_FILE'],
    flag: 'key-file',
  }),
  f(
    'server.session_timeout',
    ['server', 'sessionTimeoutMs'],
    'duration',
    'A session with no frame for this long is closed.',
    {
      min: 1000,
      max: 7 * DAY,
    },
  ),
  f(
    'server.ack_timeout',
    ['server', 'ackTimeoutMs'],
    'duration',
    'Unacknowledged reliable pushes are resent after this.',
    {
      min: 10,
      max: DAY,
    },
  ),
  f(
    'server.max_retries',
    ['server', 'maxRetries'],
    'int',
    'Resends of a reliable push before the connection is given up.',
    {
      min: 0,
      max: 100,
    },
  ),
  f(
    'server.resume_window',
    ['server', 'resumeWindowMs'],
    'duration',
    'How long a detached session stays resumable.',
    {
      min: 0,
      max: 7 * DAY,
    },
  ),
  f(
    'server.start_timeout',
    ['server', 'startTimeoutMs'],
    'duration',
    'The first frame (START) must arrive within this.',
    {
      min: 10,
      max: 10 * 60_000,
    },
  ),
  f(
    'server.max_queue',
    ['server', 'maxQueue'],
    'int',
    'Per-session limit of unacknowledged reliable pushes.',
    {
      min: 1,
      max: 10_000_000,
    },
  ),
  f(
    'server.max_frame_bytes',
    ['server', 'maxFrameBytes'],
    'int',
    'Largest frame payload accepted or sent (bytes).',
    {
      min: 16,
      max: 256 * 1_048_576,
    },
  ),
  f(
    'server.max_queue_bytes',
    ['server', 'maxQueueBytes'],
    'int',
    'Per-session byte budget of pending reliable pushes; a push beyond it is QUEUE_FULL.',
    {
      min: 1024,
      max: 64 * 1_073_741_824,
    },
  ),
  f(
    'server.push_dedup_window',
    ['server', 'pushDedupWindowMs'],
    'duration',
    'A push repeated with the same push_id within this window is delivered once.',
    {
      min: 0,
      max: 7 * DAY,
    },
  ),
  f(
    'server.heartbeat_interval',
    ['server', 'heartbeatIntervalMs'],
    'duration',
    'Heartbeat interval suggested to clients in START_RESP (sent in whole seconds).',
    {
      min: 1000,
      max: DAY,
    },
  ),
  f('server.idle_timeout', ['server', 'idleTimeoutMs'], 'duration', 'QUIC idle timeout of a connection.', {
    min: 100,
    max: DAY,
  }),
  f(
    'server.drain_timeout',
    ['server', 'drainTimeoutMs'],
    'duration',
    'Graceful drain limit on SIGTERM/SIGINT.',
    {
      min: 0,
      max: 10 * 60_000,
    },
  ),
  f(
    'server.retry_above_rate',
    ['server', 'retryAboveRate'],
    'int',
    'New QUIC connections a second above which clients must first pass a stateless Retry (address validation); 0 = always.',
    {
      min: 0,
      max: MAX_INT,
    },
  ),
  // upstream_services
  f(
    'upstream_services.hello',
    ['upstreamServices', 'hello'],
    'hostList',
    'Hello service targets; empty = in-process demo.',
  ),
  f(
    'upstream_services.business',
    ['upstreamServices', 'business'],
    'hostList',
    'Business service targets; empty = in-process demo.',
  ),
  f(
    'upstream_services.zone',
    ['upstreamServices', 'zone'],
    'hostList',
    'Zone service targets; empty = in-process demo.',
  ),
  f(
    'upstream_services.routes',
    ['upstreamServices', 'routes'],
    'routes',
    'Overrides of the action -> service table (values: hello, business, zone).',
  ),
  // overload_protection
  f(
    'overload_protection.enabled',
    ['overloadProtection', 'enabled'],
    'bool',
    'Turns all overload limits on or off.',
  ),
  f(
    'overload_protection.max_connections',
    ['overloadProtection', 'maxConnections'],
    'int',
    'Concurrent client connections; more are refused.',
    {
      min: 1,
      max: 10_000_000,
    },
  ),
  f(
    'overload_protection.connection_warning_threshold',
    ['overloadProtection', 'connectionWarningThreshold'],
    'int',
    'Connections at which a warning is logged.',
    {
      min: 0,
      max: 10_000_000,
    },
  ),
  f(
    'overload_protection.max_qps',
    ['overloadProtection', 'maxQps'],
    'int',
    'Gateway-wide requests per second (averaged over qps_window_seconds).',
    {
      min: 1,
      max: MAX_INT,
    },
  ),
  f(
    'overload_protection.qps_warning_threshold',
    ['overloadProtection', 'qpsWarningThreshold'],
    'int',
    'QPS at which a warning is logged.',
    {
      min: 0,
      max: MAX_INT,
    },
  ),
  f(
    'overload_protection.qps_window_seconds',
    ['overloadProtection', 'qpsWindowSeconds'],
    'int',
    'Sliding window for the QPS limit, in seconds.',
    {
      min: 1,
      max: 3600,
    },
  ),
  f(
    'overload_protection.max_session_qps',
    ['overloadProtection', 'maxSessionQps'],
    'int',
    'Requests per second allowed to one session.',
    {
      min: 1,
      max: MAX_INT,
    },
  ),
  f(
    'overload_protection.max_upstream_concurrent',
    ['overloadProtection', 'maxUpstreamConcurrent'],
    'int',
    'Upstream calls in flight at once.',
    {
      min: 1,
      max: 1_000_000,
    },
  ),
  f(
    'overload_protection.upstream_warning_threshold',
    ['overloadProtection', 'upstreamWarningThreshold'],
    'int',
    'In-flight upstream calls at which a warning is logged.',
    {
      min: 0,
      max: 1_000_000,
    },
  ),
  f(
    'overload_protection.max_upstream_queue',
    ['overloadProtection', 'maxUpstreamQueue'],
    'int',
    'Upstream calls waiting for a slot; more are refused.',
    {
      min: 0,
      max: 10_000_000,
    },
  ),
  f(
    'overload_protection.upstream_timeout',
    ['overloadProtection', 'upstreamTimeoutMs'],
    'duration',
    'Deadline of one upstream call.',
    {
      min: 10,
      max: 10 * 60_000,
    },
  ),
  // overload_protection: QUIC edge (docs/security-edge.md)
  f(
    'overload_protection.max_connections_per_ip',
    ['overloadProtection', 'maxConnectionsPerIp'],
    'int',
    'QUIC connections (handshaking or open) from one IPv4 address or IPv6 /64; further Initials are dropped. 0 = no limit.',
    { min: 0, max: 10_000_000 },
  ),
  f(
    'overload_protection.max_handshakes_per_ip',
    ['overloadProtection', 'maxHandshakesPerIp'],
    'int',
    'QUIC handshakes in progress from one IPv4 address or IPv6 /64; further Initials are dropped. 0 = no limit.',
    { min: 0, max: 10_000_000 },
  ),
  f(
    'overload_protection.max_handshakes',
    ['overloadProtection', 'maxHandshakes'],
    'int',
    'QUIC handshakes in progress from all sources; further Initials are dropped. 0 = no limit.',
    { min: 0, max: 10_000_000 },
  ),
  f(
    'overload_protection.handshake_timeout',
    ['overloadProtection', 'handshakeTimeoutMs'],
    'duration',
    'A QUIC handshake not complete within this is dropped.',
    { min: 100, max: 10 * 60_000 },
  ),
  f(
    'overload_protection.reserved_started_percent',
    ['overloadProtection', 'reservedStartedPercent'],
    'int',
    'Percent of max_connections that connections without a started session cannot hold.',
    { min: 0, max: 90 },
  ),
  f(
    'overload_protection.start_timeout_floor',
    ['overloadProtection', 'startTimeoutFloorMs'],
    'duration',
    'start_timeout at max_connections; it shrinks linearly to this from half of max_connections.',
    { min: 10, max: 10 * 60_000 },
  ),
  f(
    'overload_protection.max_frames_per_second',
    ['overloadProtection', 'maxFramesPerSecond'],
    'int',
    'Client frames a second per connection, every type; beyond it (and frame_burst) ERROR 429 and close 0x03. 0 = no limit.',
    { min: 0, max: MAX_INT },
  ),
  f(
    'overload_protection.frame_burst',
    ['overloadProtection', 'frameBurst'],
    'int',
    'Frames a connection may send at once above max_frames_per_second.',
    { min: 1, max: MAX_INT },
  ),
  // auth
  f(
    'auth.mode',
    ['auth', 'mode'],
    'enum',
    'START authentication: none, or jwt (sub = openid, exp required; HS256 unless a public key or JWKS is set).',
    {
      values: ['none', 'jwt'],
      flag: 'auth-mode',
    },
  ),
  f(
    'auth.jwt_secret',
    ['auth', 'jwtSecret'],
    'secret',
    'HS256 key (UTF-8 bytes, at least 32); mode jwt needs it or a public key / JWKS file.',
  ),
  f('auth.jwt_audience', ['auth', 'jwtAudience'], 'string', 'When set, tokens must carry this `aud`.'),
  f('auth.jwt_issuer', ['auth', 'jwtIssuer'], 'string', 'When set, tokens must carry this `iss`.'),
  f(
    'auth.jwt_max_lifetime',
    ['auth', 'jwtMaxLifetimeMs'],
    'duration',
    'Tokens whose exp − iat (exp − now without iat) exceeds this are refused; 0 = no limit.',
    { min: 0, max: 366 * DAY },
  ),
  f(
    'auth.jwt_public_key_file',
    ['auth', 'jwtPublicKeyFile'],
    'path',
    'PEM public key (RSA >= 2048 bits: RS256; EC P-256: ES256) instead of jwt_secret.',
  ),
  f(
    'auth.jwks_file',
    ['auth', 'jwksFile'],
    'path',
    'JWKS file of RS256/ES256 public keys instead of jwt_secret; re-read when it changes (rotation).',
  ),
  // nats
  f(
    'nats.url',
    ['nats', 'url'],
    'natsUrl',
    'NATS server URL(s), comma separated; empty = in-process event log.',
    {
      flag: 'nats-url',
    },
  ),
  f('nats.stream', ['nats', 'stream'], 'name', 'JetStream stream name for session events.'),
  f(
    'nats.subject_prefix',
    ['nats', 'subjectPrefix'],
    'subject',
    'Prefix of every NATS subject the gateway uses.',
  ),
  f(
    'nats.replicas',
    ['nats', 'replicas'],
    'int',
    'Replicas of every JetStream stream and KV bucket the gateway creates (3 on a 3-node cluster).',
    { min: 1, max: 5 },
  ),
  f(
    'nats.reply_prefix',
    ['nats', 'replyPrefix'],
    'string',
    'Subject prefix allowed in the Gatesvr-Reply header besides _INBOX. (empty = only _INBOX.).',
  ),
  f(
    'nats.store_timeout',
    ['nats', 'storeTimeoutMs'],
    'duration',
    'A session event store not confirmed within this fails; producers get UNAVAILABLE.',
    { min: 100, max: 10 * 60_000 },
  ),
  // backup
  f(
    'backup.enabled',
    ['backup', 'enabled'],
    'bool',
    'Primary/backup pair through NATS (requires nats.url).',
    {
      flag: 'backup',
    },
  ),
  f('backup.mode', ['backup', 'mode'], 'enum', 'Role at start: primary or backup.', {
    values: ['primary', 'backup'],
    flag: 'backup-mode',
  }),
  f('backup.server_id', ['backup', 'serverId'], 'name', 'Unique id of this gateway.', { flag: 'server-id' }),
  f(
    'backup.heartbeat.interval',
    ['backup', 'heartbeat', 'intervalMs'],
    'duration',
    'Lease renewal / heartbeat interval.',
    {
      min: 10,
      max: 10 * 60_000,
    },
  ),
  f(
    'backup.heartbeat.timeout',
    ['backup', 'heartbeat', 'timeoutMs'],
    'duration',
    'Lease lapses after this; the backup then takes over.',
    {
      min: 20,
      max: 60 * 60_000,
    },
  ),
  f(
    'backup.heartbeat.peer_addr',
    ['backup', 'heartbeat', 'peerAddr'],
    'string',
    'Seed compatibility; unused (the lease lives in NATS).',
    {
      compat: true,
    },
  ),
  f(
    'backup.sync.peer_addr',
    ['backup', 'sync', 'peerAddr'],
    'string',
    'Seed compatibility; unused (events flow through NATS).',
    {
      compat: true,
    },
  ),
  f('backup.sync.batch_size', ['backup', 'sync', 'batchSize'], 'int', 'Seed compatibility; unused.', {
    min: 1,
    max: 1_000_000,
    compat: true,
  }),
  f('backup.sync.timeout', ['backup', 'sync', 'timeoutMs'], 'duration', 'Seed compatibility; unused.', {
    min: 0,
    max: DAY,
    compat: true,
  }),
  f('backup.sync.buffer_size', ['backup', 'sync', 'bufferSize'], 'int', 'Seed compatibility; unused.', {
    min: 1,
    max: 100_000_000,
    compat: true,
  }),
  // log
  f('log.level', ['log', 'level'], 'enum', 'fatal, error, warn, info, debug, trace or silent.', {
    values: LOG_LEVELS,
    flag: 'log-level',
  }),
  f('log.file', ['log', 'file'], 'path', 'Log file; empty = JSON lines on stdout.', { flag: 'log-file' }),
  f('log.max_size_mb', ['log', 'maxSizeMb'], 'int', 'Rotate the log file at this size (MB).', {
    min: 1,
    max: 10_240,
  }),
  f('log.max_files', ['log', 'maxFiles'], 'int', 'Rotated files kept (file.1 .. file.N).', {
    min: 1,
    max: 1000,
  }),
  // admin
  f(
    'admin.token',
    ['admin', 'token'],
    'secret',
    'Bearer token required by the admin API; empty = none required.',
  ),
  f('admin.loopback_only', ['admin', 'loopbackOnly'], 'bool', 'Admin API answers only loopback clients.'),
  f(
    'admin.allowed_hosts',
    ['admin', 'allowedHosts'],
    'nameList',
    'Host header names the HTTP server answers besides localhost, 127.0.0.1, [::1] and the http_addr host; "*" = any.',
  ),
  // inspector
  f('inspector.enabled', ['inspector', 'enabled'], 'bool', 'Session-machine inspector (debugging aid).'),
  // async (seed 5.4)
  f('async.max_workers', ['async', 'maxWorkers'], 'int', 'Seed compatibility; unused (0 = auto).', {
    min: 0,
    max: 100_000,
    compat: true,
  }),
  f(
    'async.max_queue_size',
    ['async', 'maxQueueSize'],
    'int',
    'Seed compatibility; see overload_protection.max_upstream_queue.',
    {
      min: 0,
      max: 100_000_000,
      compat: true,
    },
  ),
  f(
    'async.task_timeout',
    ['async', 'taskTimeoutMs'],
    'duration',
    'Seed compatibility; see overload_protection.upstream_timeout.',
    {
      min: 0,
      max: DAY,
      compat: true,
    },
  ),
  // push API, upstream and NATS transport security (docs/security-services.md)
  f(
    'push_api.token',
    ['pushApi', 'token'],
    'secret',
    'Bearer token every GatewayService call must carry; empty = none required.',
  ),
  f('push_api.token_file', ['pushApi', 'tokenFile'], 'path', 'File holding push_api.token (read at start).'),
  f('push_api.cert_file', ['pushApi', 'certFile'], 'path', 'TLS certificate (PEM) of the push server.'),
  f('push_api.key_file', ['pushApi', 'keyFile'], 'path', 'TLS private key (PEM) of the push server.'),
  f(
    'push_api.client_ca_file',
    ['pushApi', 'clientCaFile'],
    'path',
    'CA (PEM) of producer certificates; set = mTLS, a client certificate is required.',
  ),
  f(
    'upstream_tls.enabled',
    ['upstreamTls', 'enabled'],
    'bool',
    'TLS to upstream services (also on when ca_file or cert_file is set).',
  ),
  f(
    'upstream_tls.ca_file',
    ['upstreamTls', 'caFile'],
    'path',
    'CA (PEM) for upstream certificates; empty = system roots.',
  ),
  f(
    'upstream_tls.cert_file',
    ['upstreamTls', 'certFile'],
    'path',
    'Client certificate (PEM) for upstream mTLS.',
  ),
  f(
    'upstream_tls.key_file',
    ['upstreamTls', 'keyFile'],
    'path',
    'Client private key (PEM) for upstream mTLS.',
  ),
  f(
    'upstream_tls.server_name',
    ['upstreamTls', 'serverName'],
    'string',
    'Name checked against upstream certificates instead of the target host.',
  ),
  f(
    'nats.tls_ca_file',
    ['nats', 'tlsCaFile'],
    'path',
    'CA (PEM) for the NATS server certificate; set = TLS.',
  ),
  f('nats.tls_cert_file', ['nats', 'tlsCertFile'], 'path', 'Client certificate (PEM) for NATS (TLS).'),
  f('nats.tls_key_file', ['nats', 'tlsKeyFile'], 'path', 'Client private key (PEM) for NATS (TLS).'),
  f('nats.creds_file', ['nats', 'credsFile'], 'path', 'NATS credentials file (JWT + nkey seed).'),
  f('nats.token', ['nats', 'token'], 'secret', 'NATS authentication token.'),
  f('nats.nkey_seed_file', ['nats', 'nkeySeedFile'], 'path', 'File holding a NATS nkey seed (SU...).'),
  f('nats.user', ['nats', 'user'], 'string', 'NATS user name (with nats.password).'),
  f('nats.password', ['nats', 'password'], 'secret', 'NATS password (with nats.user).'),
];

export const FIELD_BY_PATH: ReadonlyMap<string, FieldSpec> = new Map(FIELDS.map((s) => [s.path, s]));

/** Reads the value at a property path of a config object. */
export function getProp(obj: unknown, prop: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const p of prop) cur = (cur as Record<string, unknown>)[p];
  return cur;
}

/** Sets the value at a property path of a config object. */
export function setProp(obj: object, prop: readonly string[], value: unknown): void {
  let cur = obj as Record<string, unknown>;
  for (const p of prop.slice(0, -1)) cur = cur[p] as Record<string, unknown>;
  cur[prop[prop.length - 1]!] = value;
}
