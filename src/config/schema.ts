// The configuration schema: every key declared once (kind, default, range, doc, env
// aliases, flag). GatewayConfig (camelCase, durations in ms) is inferred from it;
// YAML paths are the snake_case of each property (durations drop their Ms suffix),
// env names are GATESVR_ + the path. The loader (load.ts) and the docs generator
// (scripts/config-docs.ts) walk FIELDS, derived from the schema below.

import type { z } from 'zod';
import {
  addr,
  bool,
  duration,
  hostList,
  int,
  type KeyMeta,
  keyMeta,
  name,
  nameList,
  natsUrl,
  oneOf,
  path,
  routes,
  secret,
  section,
  str,
  subject,
} from './kinds.js';

export { AddrError, formatAddr, type ParsedAddr, parseAddr } from './addr.js';
export type { FieldKind } from './kinds.js';

export const SERVICE_NAMES = ['hello', 'business', 'zone'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const MAX_INT = 2 ** 31 - 1;
const MIN = 60_000;
const DAY = 86_400_000;
const MB = 1_048_576;
const seed = { compat: true } as const;

export const GatewaySchema = section({
  server: section({
    quicAddr: addr(':8453', { flag: 'quic-addr', aliases: ['GATESVR_QUIC_ADDR'] }).describe(
      'QUIC (UDP) listen address for clients.',
    ),
    httpAddr: addr(':8080', { flag: 'http-addr', aliases: ['GATESVR_HTTP_ADDR'] }).describe(
      'HTTP listen address: /health, /live, /stats, admin API.',
    ),
    grpcAddr: addr('127.0.0.1:8092', { flag: 'grpc-addr', aliases: ['GATESVR_GRPC_ADDR'] }).describe(
      'gRPC GatewayService listen address (pushes from upstreams); loopback unless set.',
    ),
    metricsAddr: addr(':9090', { flag: 'metrics-addr', aliases: ['GATESVR_METRICS_ADDR'] }).describe(
      'Prometheus /metrics listen address.',
    ),
    certFile: path({ flag: 'cert-file', aliases: ['GATESVR_CERT_FILE'] }).describe(
      'TLS certificate (PEM). Empty with key_file empty = self-signed at start.',
    ),
    keyFile: path({ flag: 'key-file', aliases: ['GATESVR_KEY_FILE'] }).describe(
      'TLS private key (PEM) matching cert_file.',
    ),
    sessionTimeoutMs: duration(5 * MIN, [1000, 7 * DAY]).describe(
      'A session with no frame for this long is closed.',
    ),
    ackTimeoutMs: duration(30_000, [10, DAY]).describe(
      'Unacknowledged reliable pushes are resent after this.',
    ),
    maxRetries: int(3, [0, 100]).describe('Resends of a reliable push before the connection is given up.'),
    resumeWindowMs: duration(MIN, [0, 7 * DAY]).describe('How long a detached session stays resumable.'),
    startTimeoutMs: duration(5000, [10, 10 * MIN]).describe(
      'The first frame (START) must arrive within this.',
    ),
    maxQueue: int(1000, [1, 10_000_000]).describe('Per-session limit of unacknowledged reliable pushes.'),
    maxFrameBytes: int(MB, [16, 256 * MB]).describe('Largest frame payload accepted or sent (bytes).'),
    maxQueueBytes: int(8 * MB, [1024, 64 * 1024 * MB]).describe(
      'Per-session byte budget of pending reliable pushes; a push beyond it is QUEUE_FULL.',
    ),
    pushDedupWindowMs: duration(10 * MIN, [0, 7 * DAY]).describe(
      'A push repeated with the same push_id within this window is delivered once.',
    ),
    heartbeatIntervalMs: duration(30_000, [1000, DAY]).describe(
      'Heartbeat interval suggested to clients in START_RESP (sent in whole seconds).',
    ),
    idleTimeoutMs: duration(MIN, [100, DAY]).describe('QUIC idle timeout of a connection.'),
    drainTimeoutMs: duration(10_000, [0, 10 * MIN]).describe('Graceful drain limit on SIGTERM/SIGINT.'),
    retryAboveRate: int(200, [0, MAX_INT]).describe(
      'New QUIC connections a second (over the last second) above which a client must first pass a stateless Retry (address validation, one extra round trip); 0 = always. See [security-edge.md](security-edge.md).',
    ),
  }),
  upstreamServices: section({
    hello: hostList().describe('Hello service targets; empty = in-process demo.'),
    business: hostList().describe('Business service targets; empty = in-process demo.'),
    zone: hostList().describe('Zone service targets; empty = in-process demo.'),
    routes: routes(SERVICE_NAMES).describe(
      'Overrides of the action -> service table (values: hello, business, zone).',
    ),
  }),
  overloadProtection: section({
    enabled: bool(true).describe('Turns all overload limits on or off.'),
    maxConnections: int(1000, [1, 10_000_000]).describe('Concurrent client connections; more are refused.'),
    connectionWarningThreshold: int(800, [0, 10_000_000]).describe(
      'Connections at which a warning is logged.',
    ),
    maxQps: int(2000, [1, MAX_INT]).describe(
      'Gateway-wide requests per second (averaged over qps_window_seconds).',
    ),
    qpsWarningThreshold: int(1600, [0, MAX_INT]).describe('QPS at which a warning is logged.'),
    qpsWindowSeconds: int(10, [1, 3600]).describe('Sliding window for the QPS limit, in seconds.'),
    maxSessionQps: int(200, [1, MAX_INT]).describe('Requests per second allowed to one session.'),
    maxUpstreamConcurrent: int(100, [1, 1_000_000]).describe('Upstream calls in flight at once.'),
    upstreamWarningThreshold: int(80, [0, 1_000_000]).describe(
      'In-flight upstream calls at which a warning is logged.',
    ),
    maxUpstreamQueue: int(10_000, [0, 10_000_000]).describe(
      'Upstream calls waiting for a slot; more are refused.',
    ),
    upstreamTimeoutMs: duration(30_000, [10, 10 * MIN]).describe('Deadline of one upstream call.'),
    // QUIC edge (docs/security-edge.md)
    maxConnectionsPerIp: int(256, [0, 10_000_000]).describe(
      'QUIC connections (handshaking or open) from one IPv4 address or IPv6 /64; further Initials from it are dropped. 0 = no limit.',
    ),
    maxHandshakesPerIp: int(32, [0, 10_000_000]).describe(
      'QUIC handshakes in progress from one IPv4 address or IPv6 /64; further Initials from it are dropped. 0 = no limit.',
    ),
    maxHandshakes: int(1000, [0, 10_000_000]).describe(
      'QUIC handshakes in progress from all sources; further Initials are dropped. 0 = no limit.',
    ),
    handshakeTimeoutMs: duration(5000, [100, 10 * MIN]).describe(
      'A QUIC handshake not complete within this is dropped (its state freed at once).',
    ),
    reservedStartedPercent: int(10, [0, 90]).describe(
      'Percent of `max_connections` (rounded up) that connections without a started session cannot hold; a newcomer beyond that displaces the oldest connection still without START.',
    ),
    startTimeoutFloorMs: duration(1000, [10, 10 * MIN]).describe(
      '`start_timeout` given to a connection accepted at `max_connections`; from half of `max_connections` on it shrinks linearly from `server.start_timeout` to this.',
    ),
    maxFramesPerSecond: int(2000, [0, MAX_INT]).describe(
      'Client frames a second per connection, every type (HEARTBEAT, ACK, STOP too); beyond it and `frame_burst`: ERROR 429, close 0x03. 0 = no limit.',
    ),
    frameBurst: int(4000, [1, MAX_INT]).describe(
      'Frames a connection may send at once on top of `max_frames_per_second` (token-bucket size).',
    ),
  }),
  auth: section({
    mode: oneOf(['none', 'jwt'], 'none', { flag: 'auth-mode' }).describe(
      'START authentication: none, or jwt (sub = openid, exp required; HS256 unless a public key or JWKS is set).',
    ),
    jwtSecret: secret().describe(
      'HS256 key (UTF-8 bytes, at least 32); mode jwt needs it or a public key / JWKS file.',
    ),
    jwtAudience: str().describe('When set, tokens must carry this `aud`.'),
    jwtIssuer: str().describe('When set, tokens must carry this `iss`.'),
    jwtMaxLifetimeMs: duration(DAY, [0, 366 * DAY]).describe(
      'Tokens whose exp − iat (exp − now without iat) exceeds this are refused; 0 = no limit.',
    ),
    jwtPublicKeyFile: path().describe(
      'PEM public key (RSA >= 2048 bits: RS256; EC P-256: ES256) instead of jwt_secret.',
    ),
    jwksFile: path().describe(
      'JWKS file of RS256/ES256 public keys instead of jwt_secret; re-read when it changes (rotation).',
    ),
  }),
  nats: section({
    url: natsUrl({ flag: 'nats-url' }).describe(
      'NATS server URL(s), comma separated; empty = in-process event log.',
    ),
    stream: name('GATESVR').describe('JetStream stream name for session events.'),
    subjectPrefix: subject('gatesvr').describe('Prefix of every NATS subject the gateway uses.'),
    replicas: int(1, [1, 5]).describe(
      'Replicas of every JetStream stream and KV bucket the gateway creates (3 on a 3-node cluster).',
    ),
    replyPrefix: str().describe(
      'Subject prefix allowed in the Gatesvr-Reply header besides _INBOX. (empty = only _INBOX.).',
    ),
    storeTimeoutMs: duration(5000, [100, 10 * MIN]).describe(
      'A session event store not confirmed within this fails; producers get UNAVAILABLE.',
    ),
    tlsCaFile: path().describe('CA (PEM) for the NATS server certificate; set = TLS.'),
    tlsCertFile: path().describe('Client certificate (PEM) for NATS (TLS).'),
    tlsKeyFile: path().describe('Client private key (PEM) for NATS (TLS).'),
    credsFile: path().describe('NATS credentials file (JWT + nkey seed).'),
    token: secret().describe('NATS authentication token.'),
    nkeySeedFile: path().describe('File holding a NATS nkey seed (SU...).'),
    user: str().describe('NATS user name (with nats.password).'),
    password: secret().describe('NATS password (with nats.user).'),
  }),
  backup: section({
    enabled: bool(false, { flag: 'backup' }).describe(
      'Primary/backup pair through NATS (requires nats.url).',
    ),
    mode: oneOf(['primary', 'backup'], 'primary', { flag: 'backup-mode' }).describe(
      'Role at start: primary or backup.',
    ),
    serverId: name('gate-001', { flag: 'server-id' }).describe('Unique id of this gateway.'),
    heartbeat: section({
      intervalMs: duration(2000, [10, 10 * MIN]).describe('Lease renewal / heartbeat interval.'),
      timeoutMs: duration(6000, [20, 60 * MIN]).describe(
        'Lease lapses after this; the backup then takes over.',
      ),
      peerAddr: str(seed).describe('Seed compatibility; unused (the lease lives in NATS).'),
    }),
    sync: section({
      peerAddr: str(seed).describe('Seed compatibility; unused (events flow through NATS).'),
      batchSize: int(50, [1, 1_000_000], seed).describe('Seed compatibility; unused.'),
      timeoutMs: duration(200, [0, DAY], seed).describe('Seed compatibility; unused.'),
      bufferSize: int(1000, [1, 100_000_000], seed).describe('Seed compatibility; unused.'),
    }),
  }),
  log: section({
    level: oneOf(LOG_LEVELS, 'info', { flag: 'log-level' }).describe(
      'fatal, error, warn, info, debug, trace or silent.',
    ),
    file: path({ flag: 'log-file' }).describe('Log file; empty = JSON lines on stdout.'),
    maxSizeMb: int(3, [1, 10_240]).describe('Rotate the log file at this size (MB).'),
    maxFiles: int(5, [1, 1000]).describe('Rotated files kept (file.1 .. file.N).'),
  }),
  admin: section({
    token: secret().describe('Bearer token required by the admin API; empty = none required.'),
    loopbackOnly: bool(true).describe('Admin API answers only loopback clients.'),
    allowedHosts: nameList().describe(
      'Host header names the HTTP server answers besides localhost, 127.0.0.1, [::1] and the http_addr host; `"*"` = any. Every route but `/health` and `/live` answers other names with 421 (DNS rebinding); a page served under one of these names may also post to the admin API. See [security-http.md](security-http.md).',
    ),
  }),
  inspector: section({
    enabled: bool(false).describe('Session-machine inspector (debugging aid).'),
  }),
  // seed section 5.4: the gateway has no worker pool
  async: section({
    maxWorkers: int(0, [0, 100_000], seed).describe('Seed compatibility; unused (0 = auto).'),
    maxQueueSize: int(10_000, [0, 100_000_000], seed).describe(
      'Seed compatibility; see overload_protection.max_upstream_queue.',
    ),
    taskTimeoutMs: duration(30_000, [0, DAY], seed).describe(
      'Seed compatibility; see overload_protection.upstream_timeout.',
    ),
  }),
  // push API, upstream and NATS transport security (docs/security-services.md)
  pushApi: section({
    token: secret().describe('Bearer token every GatewayService call must carry; empty = none required.'),
    tokenFile: path().describe('File holding push_api.token (read at start).'),
    certFile: path().describe('TLS certificate (PEM) of the push server.'),
    keyFile: path().describe('TLS private key (PEM) of the push server.'),
    clientCaFile: path().describe(
      'CA (PEM) of producer certificates; set = mTLS, a client certificate is required.',
    ),
  }),
  upstreamTls: section({
    enabled: bool(false).describe('TLS to upstream services (also on when ca_file or cert_file is set).'),
    caFile: path().describe('CA (PEM) for upstream certificates; empty = system roots.'),
    certFile: path().describe('Client certificate (PEM) for upstream mTLS.'),
    keyFile: path().describe('Client private key (PEM) for upstream mTLS.'),
    serverName: str().describe('Name checked against upstream certificates instead of the target host.'),
  }),
});

export type GatewayConfig = z.output<typeof GatewaySchema>;
export type ServerConfig = GatewayConfig['server'];
export type OverloadProtectionConfig = GatewayConfig['overloadProtection'];
export type AuthConfig = GatewayConfig['auth'];
export type NatsConfig = GatewayConfig['nats'];
export type LogConfig = GatewayConfig['log'];
export type PushApiConfig = GatewayConfig['pushApi'];
export type UpstreamTlsConfig = GatewayConfig['upstreamTls'];
export type LogLevel = LogConfig['level'];

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** Built-in defaults (deep-frozen): the schema applied to nothing. */
export const DEFAULTS: Readonly<GatewayConfig> = deepFreeze(structuredClone(GatewaySchema.parse(undefined)));

/** A fresh, mutable deep copy of DEFAULTS. */
export function defaultConfig(): GatewayConfig {
  return structuredClone(DEFAULTS) as GatewayConfig;
}

// ---------------------------------------------------------------------------
// FIELDS: the schema's keys as a flat list, in declaration order

export interface FieldSpec extends KeyMeta {
  /** The key's description (zod .describe()), the "meaning" column of docs/configuration.md. */
  doc: string;
  /** YAML path, snake_case, dot separated: "server.ack_timeout". */
  path: string;
  /** Property path in GatewayConfig: ["server", "ackTimeoutMs"]. */
  prop: readonly string[];
  /** Environment variables, canonical first (GATESVR_ + path upper-cased, "." -> "_"), then aliases. */
  env: readonly string[];
  /** Parses one raw value (YAML value or env/flag text) into the typed value. */
  schema: z.ZodType;
}

const snake = (prop: string) => prop.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function flatten(shape: z.ZodRawShape, prefix: string, prop: string[]): FieldSpec[] {
  return Object.entries(shape).flatMap(([p, schema]) => {
    const meta = keyMeta.get(schema);
    const path = prefix + snake(meta?.kind === 'duration' ? p.replace(/Ms$/, '') : p);
    if (!meta)
      return flatten((schema as ReturnType<typeof section>).unwrap().shape, `${path}.`, [...prop, p]);
    const env = [`GATESVR_${path.toUpperCase().replaceAll('.', '_')}`, ...(meta.aliases ?? [])];
    const leaf = schema as z.ZodType;
    return [{ ...meta, doc: leaf.description ?? '', path, prop: [...prop, p], env, schema: leaf }];
  });
}

export const FIELDS: readonly FieldSpec[] = flatten(GatewaySchema.unwrap().shape, '', []);

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
