/**
 * Everything that listens: the QUIC client edge, the gRPC push API, the
 * Prometheus endpoint and the operations HTTP server. Nothing is served before
 * `serve` (serving.ts) says whether this gateway serves or stands by.
 */
import type { Clock, Logger } from '../actors/ports.js';
import { type GatewayConfig, type OverloadProtectionConfig, parseAddr } from '../config/schema.js';
import { CloseCode } from '../protocol/codes.js';
import { ClientListener, type EdgeLimitsOptions } from '../transport/client-listener.js';
import { type GatewayServer, startGatewayServer } from '../transport/grpc/gateway-server.js';
import { pushApiFor } from '../transport/grpc/push-adapter.js';
import { type HttpServer, startHttpServer } from '../transport/http/http-server.js';
import { type MetricsServer, startMetricsServer } from '../transport/http/metrics-server.js';
import { createQuicServer, type QuicServerOptions } from '../transport/quic/index.js';
import type { HostPort, QuicServer } from '../transport/quic/types.js';
import type { Closers } from './closers.js';
import type { Core } from './core.js';
import type { Security } from './security.js';

export interface Listeners {
  listener: ClientListener;
  quic: QuicServer;
  quicBound: HostPort;
  grpc: GatewayServer;
  grpcAddress: HostPort;
  /** Stops the push API (once; later calls share the first). */
  closeGrpc(): Promise<void>;
  metricsServer: MetricsServer;
  http: HttpServer;
  /** From now on every new QUIC connection is refused with SERVER_SHUTDOWN. */
  refuseConnections(): void;
}

/** The listener's share of the edge limits (docs/security-edge.md). */
export function listenerEdgeLimits(op: OverloadProtectionConfig): EdgeLimitsOptions {
  const reserved = Math.ceil((op.maxConnections * op.reservedStartedPercent) / 100);
  return {
    maxConnections: op.maxConnections,
    maxPreStart: Math.max(1, op.maxConnections - reserved),
    startTimeoutFloorMs: op.startTimeoutFloorMs,
    framesPerSecond: op.maxFramesPerSecond,
    frameBurst: op.frameBurst,
  };
}

/** The QUIC engine's share: per-source and handshake bounds, and a hard cap on connection state. */
export function quicEdgeLimits(op: OverloadProtectionConfig): Partial<QuicServerOptions> {
  return {
    maxConnectionsPerIp: op.maxConnectionsPerIp,
    maxHandshakesPerIp: op.maxHandshakesPerIp,
    maxHandshakes: op.maxHandshakes,
    handshakeTimeoutMs: op.handshakeTimeoutMs,
    // Room for every admitted connection plus the handshakes in progress; the
    // listener answers the ones beyond max_connections with 429 and 0x03.
    maxConnections: op.maxConnections + (op.maxHandshakes > 0 ? op.maxHandshakes : op.maxConnections),
  };
}

/** Bind "host" for listeners: an empty host means every interface. */
export function bindHost(host: string): string {
  return host === '' ? '0.0.0.0' : host;
}

function bindAddr(addr: string): HostPort {
  const a = parseAddr(addr);
  return { host: bindHost(a.host), port: a.port };
}

export interface ListenerDeps {
  core: Core;
  security: Security;
  logger: Logger;
  clock: Clock;
  closers: Closers;
  startedAt: number;
}

export async function startListeners(cfg: GatewayConfig, d: ListenerDeps): Promise<Listeners> {
  const { core, security, logger, closers } = d;
  const { system, cluster, metrics, observers } = core;
  const op = cfg.overloadProtection;
  const listener = new ClientListener({
    system,
    auth: security.auth,
    beforeStart: (openid) => cluster.prepareStart(openid),
    maxFrameBytes: cfg.server.maxFrameBytes,
    startTimeoutMs: cfg.server.startTimeoutMs,
    maxBufferedBytes: Math.max(4 * cfg.server.maxFrameBytes, 8 * 1024 * 1024),
    admission: core.admission,
    logger,
    onConnectionChange: observers.onConnectionChange,
    onRequest: observers.onRequest,
    edge: op.enabled ? listenerEdgeLimits(op) : undefined,
  });

  const quic = createQuicServer({
    ...bindAddr(cfg.server.quicAddr),
    tls: { certPem: security.tls.certPem, keyPem: security.tls.keyPem },
    idleTimeoutMs: cfg.server.idleTimeoutMs,
    retryAboveRate: cfg.server.retryAboveRate,
    ...(op.enabled ? quicEdgeLimits(op) : {}),
  });
  let refusing = false;
  quic.onConnection = (conn) => {
    // A standing-by gateway (no serving lease) refuses clients: they go to the one serving.
    if (refusing || !cluster.serving) conn.close(CloseCode.SERVER_SHUTDOWN, 'server shutdown');
    else listener.accept(conn);
  };
  const quicBound = await quic.listen();
  closers.add(() => quic.close(CloseCode.SERVER_SHUTDOWN, 'server shutdown'));

  const grpcAddress = bindAddr(cfg.server.grpcAddr);
  const grpc = await startGatewayServer(grpcAddress, pushApiFor(cluster.pushSink()), logger, {
    token: security.pushToken,
    credentials: security.pushSecurity.credentials,
  });
  let grpcClosed: Promise<void> | null = null;
  const closeGrpc = (): Promise<void> => {
    grpcClosed ??= grpc.close();
    return grpcClosed;
  };
  closers.add(closeGrpc);

  metrics.bind({
    sessions: () => system.sessions(),
    connections: () => listener.connectionCount,
    quicCounters: () => quic.counters(),
    asyncStats: () => core.upstream.stats(),
    upstreamHealth: () => core.pool.health(),
    edgeRefusals: () => ({ ...quic.edgeStats().refused, ...listener.refused }),
    retriesSent: () => quic.edgeStats().retriesSent,
    serving: () => cluster.serving,
    storeAvailable: () => cluster.storeAvailable,
  });
  const metricsServer = await startMetricsServer({
    ...bindAddr(cfg.server.metricsAddr),
    registry: metrics.registry,
    logger,
  });
  closers.add(() => metricsServer.close());
  const http = await startHttpServer({
    ...bindAddr(cfg.server.httpAddr),
    logger,
    gateway: {
      config: cfg,
      system,
      connections: () => listener.connectionCount,
      upstreamHealth: () => core.pool.health(),
      asyncStats: () => core.upstream.stats(),
      metrics,
      inspector: core.inspector,
      startedAt: d.startedAt,
      now: () => d.clock.now(),
      storeAvailable: () => cluster.storeAvailable,
    },
  });
  closers.add(() => http.close());
  return {
    listener,
    quic,
    quicBound,
    grpc,
    grpcAddress: { host: grpcAddress.host, port: grpc.port },
    closeGrpc,
    metricsServer,
    http,
    refuseConnections: () => {
      refusing = true;
    },
  };
}
