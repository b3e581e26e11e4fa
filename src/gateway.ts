/**
 * Wiring: config -> listeners, upstream pool, actor system. No logic of its own
 * beyond start order and a graceful drain.
 */
import type { Logger } from 'pino';
import { MemoryEventLog } from './actors/memory-event-log.js';
import { OverloadProtector } from './actors/overload.js';
import type { EventLog } from './actors/ports.js';
import { type Clock, systemClock } from './actors/ports.js';
import type { SessionActor } from './actors/session-actor.js';
import { type SessionLifecycle, SessionSystem } from './actors/session-system.js';
import { type Authenticator, guardAuthenticator, jwtAuthenticator, noAuth } from './auth/authenticator.js';
import { openPushApi } from './config/exposure.js';
import { jwtPolicyOf, loadJwtKey } from './config/jwt-keys.js';
import { closeLogger, createLogger } from './config/logger.js';
import { type GatewayConfig, type OverloadProtectionConfig, parseAddr } from './config/schema.js';
import { ensureTls, type TlsMaterial } from './config/tls.js';
import { type DemoUpstreams, startDemoUpstreams } from './demo/upstreams.js';
import { createRoutingTable, HELLO_SERVICE } from './machines/routing.js';
import type { SessionConfig, SessionOutput } from './machines/session-machine.js';
import { composeObservers } from './metrics/compose.js';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { CloseCode } from './protocol/codes.js';
import { type Admission, ClientListener, type EdgeLimitsOptions } from './transport/client-listener.js';
import { type AsyncProcessor, createAsyncProcessor } from './transport/grpc/async-processor.js';
import {
  pushServerCredentials,
  resolvePushToken,
  upstreamChannelSecurity,
} from './transport/grpc/credentials.js';
import { type GatewayServer, startGatewayServer } from './transport/grpc/gateway-server.js';
import { pushApiFor } from './transport/grpc/push-adapter.js';
import { createUpstreamPool, type UpstreamPool } from './transport/grpc/upstream-pool.js';
import { type HttpServer, startHttpServer } from './transport/http/http-server.js';
import { SessionInspector } from './transport/http/inspector.js';
import { startMetricsServer } from './transport/http/metrics-server.js';
import { NatsCluster } from './transport/nats/cluster.js';
import { createQuicServer, type QuicServerOptions } from './transport/quic/index.js';
import type { HostPort, QuicServer } from './transport/quic/types.js';

/** Hooks for metrics and inspection; every one optional and must not throw. */
export interface GatewayObservers {
  /** Every effect and fact a session machine emits (see SessionFact). */
  onEffect?: (actor: SessionActor, output: SessionOutput) => void;
  onLifecycle?: (event: SessionLifecycle) => void;
  onConnectionChange?: (active: number) => void;
  onRequest?: (type: number) => void;
}

export interface GatewayOptions {
  logger?: Logger;
  clock?: Clock;
  /** Replaces the in-process event log (JetStream, tests). */
  eventLog?: EventLog;
  authenticator?: Authenticator;
  /** Replaces the overload protector built from cfg.overload_protection. */
  admission?: Admission;
  observers?: GatewayObservers;
}

export interface Gateway {
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly system: SessionSystem;
  readonly listener: ClientListener;
  readonly quic: QuicServer;
  readonly upstream: AsyncProcessor;
  readonly pool: UpstreamPool;
  readonly tls: TlsMaterial;
  readonly demo: DemoUpstreams | null;
  /** The overload protector (null when `GatewayOptions.admission` replaced it). */
  readonly overload: OverloadProtector | null;
  /** Prometheus registry and the numbers behind /performance (overloadRefused() for others). */
  readonly metrics: GatewayMetrics;
  /** Operations HTTP server: setServing(false) makes /health answer 503 standby. */
  readonly http: HttpServer;
  /**
   * NATS wiring when nats.url is set (JetStream log, NATS pushes, directory,
   * serving lease); null with the in-process log.
   */
  readonly cluster: NatsCluster | null;
  /**
   * This gateway serves QUIC and gRPC. False while a backup (or a primary that
   * lost the serving lease) stands by: /health then answers 503 standby.
   */
  readonly serving: boolean;
  /** Bound addresses (ports resolved when 0 was asked). */
  readonly addresses: { quic: HostPort; grpc: HostPort; http: HostPort; metrics: HostPort };
  readonly startedAt: number;
  /**
   * Graceful drain, done within server.drain_timeout: refuse new connections (close
   * 0x12), stop the gRPC push service, close every session's connection with 0x12
   * after its pending frames are flushed, wait for the connections to finish, then
   * stop everything.
   */
  close(): Promise<void>;
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

export function sessionConfigOf(cfg: GatewayConfig): SessionConfig {
  const s = cfg.server;
  return {
    ackTimeoutMs: s.ackTimeoutMs,
    maxRetries: s.maxRetries,
    resumeWindowMs: s.resumeWindowMs,
    sessionTimeoutMs: s.sessionTimeoutMs,
    heartbeatIntervalSec: Math.max(1, Math.round(s.heartbeatIntervalMs / 1000)),
    maxQueue: s.maxQueue,
    maxQueueBytes: s.maxQueueBytes,
    maxFrameBytes: s.maxFrameBytes,
    pushDedupWindowMs: s.pushDedupWindowMs,
  };
}

async function authenticatorOf(
  cfg: GatewayConfig,
  logger: Logger,
  closers: Closer[],
): Promise<Authenticator> {
  if (cfg.auth.mode !== 'jwt') return noAuth;
  const jwt = await loadJwtKey(cfg.auth, logger);
  closers.push(jwt.close);
  return jwtAuthenticator(jwt.key, jwtPolicyOf(cfg.auth));
}

type Closer = () => Promise<void> | void;

function sleep(ms: number, unref = false): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (unref) t.unref();
  });
}

/** Bind "host" for listeners: an empty host means every interface. */
function bindHost(host: string): string {
  return host === '' ? '0.0.0.0' : host;
}

export async function startGateway(cfg: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const logger = opts.logger ?? createLogger(cfg.log);
  const clock = opts.clock ?? systemClock;
  const startedAt = clock.now();
  const closers: Closer[] = [];
  // A logger made here is drained last (closers run in reverse), after the final lines.
  if (!opts.logger) closers.push(() => closeLogger(logger));
  const closeAll = async () => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn({ err: String(err) }, 'error while closing');
      }
    }
  };

  try {
    const tls = await ensureTls(cfg);
    // Key files are read before anything listens: a bad key stops the start.
    const auth = guardAuthenticator(opts.authenticator ?? (await authenticatorOf(cfg, logger, closers)));
    if (tls.selfSigned) logger.info({ certFile: tls.certFile }, 'using a self-signed certificate');
    // Every security file is read before anything listens: a bad one stops the start.
    const [pushToken, pushSecurity, upstreamTls] = await Promise.all([
      resolvePushToken(cfg.pushApi),
      pushServerCredentials(cfg.pushApi),
      upstreamChannelSecurity(cfg.upstreamTls),
    ]);
    const open = openPushApi({
      grpcAddr: cfg.server.grpcAddr,
      token: pushToken !== '',
      mtls: pushSecurity.mtls,
    });
    if (open !== null) {
      logger.warn(
        {
          alert: 'UNAUTHENTICATED_PUSH_API',
          grpcAddr: cfg.server.grpcAddr,
          fix: 'set push_api.token (GATESVR_PUSH_API_TOKEN or push_api.token_file), push_api.client_ca_file, or bind server.grpc_addr to 127.0.0.1',
        },
        `SECURITY: ${open}`,
      );
    }

    // Services without configured addresses run as demo upstreams in this process.
    const services: Record<string, string[]> = {
      hello: cfg.upstreamServices.hello,
      business: cfg.upstreamServices.business,
      zone: cfg.upstreamServices.zone,
    };
    let demo: DemoUpstreams | null = null;
    const missing = Object.keys(services).filter((k) => services[k]!.length === 0);
    if (missing.length > 0) {
      demo = await startDemoUpstreams({ host: '127.0.0.1' });
      closers.push(() => demo!.close());
      for (const k of missing) services[k] = demo.addresses[k as keyof DemoUpstreams['addresses']];
      logger.info({ services: missing, addresses: demo.addresses }, 'demo upstreams running in-process');
    }

    // Configured upstreams get upstream_tls; the in-process demo stays plaintext on loopback.
    const pool = createUpstreamPool(services, {
      logger,
      channelSecurity: (service) => (missing.includes(service) ? null : upstreamTls),
    });
    closers.push(() => pool.close());
    const op = cfg.overloadProtection;
    const overload = opts.admission
      ? null
      : new OverloadProtector({ config: op, logger, now: () => clock.now() });
    const upstream = createAsyncProcessor(pool, {
      maxConcurrent: op.maxUpstreamConcurrent,
      maxQueue: op.maxUpstreamQueue,
      onWarning: (stats) => {
        logger.warn({ ...stats }, 'upstream queue above warning threshold');
        overload?.noteWarning('upstream_queue', { queued: stats.queued });
      },
    });
    closers.push(() => upstream.close());

    const routing = createRoutingTable(cfg.upstreamServices.routes);
    // nats.url set: session events in JetStream, pushes and lifecycle over NATS, HA lease.
    const cluster = cfg.nats.url !== '' && !opts.eventLog ? await NatsCluster.connect(cfg, logger) : null;
    if (cluster) closers.push(() => cluster.close());
    const eventLog = opts.eventLog ?? cluster?.log ?? new MemoryEventLog(cfg.server.maxQueue);
    const metrics = new GatewayMetrics({ labels: { server_id: cfg.backup.serverId } });
    closers.push(() => metrics.stop());
    const inspector = cfg.inspector.enabled ? new SessionInspector() : null;
    const observers = composeObservers(metrics.observers, inspector, opts.observers);
    const system = new SessionSystem({
      config: cluster
        ? {
            ...sessionConfigOf(cfg),
            maxFrameBytes: Math.min(cfg.server.maxFrameBytes, cluster.log.maxFrameBytes),
          }
        : sessionConfigOf(cfg),
      route: (a) => routing.serviceFor(a),
      helloService: HELLO_SERVICE,
      upstream: {
        call: (service, request, timeoutMs) => {
          const p = metrics.timeUpstream(service, upstream.submit(service, request, timeoutMs));
          return overload ? overload.trackUpstream(p) : p;
        },
      },
      upstreamTimeoutMs: op.upstreamTimeoutMs,
      log: eventLog,
      clock,
      logger,
      observe: observers.onEffect,
      onLifecycle: (event) => {
        if (event.type === 'ended') overload?.sessionEnded(event.sessionId);
        cluster?.onLifecycle(event);
        observers.onLifecycle?.(event);
      },
      inspect: inspector?.inspect,
      ...(cluster
        ? {
            storeAvailable: () => cluster.storeAvailable,
            onSessionFailed: (sessionId: string) => cluster.onSessionFailed(sessionId),
          }
        : {}),
    });
    closers.push(() => system.dispose());
    cluster?.attach(system);
    inspector?.attach((id) => system.get(id));

    const listener = new ClientListener({
      system,
      auth,
      beforeStart: cluster ? (openid) => cluster.prepareStart(openid) : undefined,
      maxFrameBytes: cfg.server.maxFrameBytes,
      startTimeoutMs: cfg.server.startTimeoutMs,
      maxBufferedBytes: Math.max(4 * cfg.server.maxFrameBytes, 8 * 1024 * 1024),
      admission: metrics.wrapAdmission(opts.admission ?? overload!),
      logger,
      onConnectionChange: observers.onConnectionChange,
      onRequest: observers.onRequest,
      edge: op.enabled ? listenerEdgeLimits(op) : undefined,
    });

    const quicAddr = parseAddr(cfg.server.quicAddr);
    const quic = createQuicServer({
      host: bindHost(quicAddr.host),
      port: quicAddr.port,
      tls: { certPem: tls.certPem, keyPem: tls.keyPem },
      idleTimeoutMs: cfg.server.idleTimeoutMs,
      retryAboveRate: cfg.server.retryAboveRate,
      ...(op.enabled ? quicEdgeLimits(op) : {}),
    });
    let draining = false;
    quic.onConnection = (conn) => {
      // A standing-by gateway (no serving lease) refuses clients: they go to the one serving.
      if (draining || (cluster && !cluster.serving)) conn.close(CloseCode.SERVER_SHUTDOWN, 'server shutdown');
      else listener.accept(conn);
    };
    const quicBound = await quic.listen();
    closers.push(() => quic.close(CloseCode.SERVER_SHUTDOWN, 'server shutdown'));

    const grpcAddr = parseAddr(cfg.server.grpcAddr);
    const grpcServer: GatewayServer = await startGatewayServer(
      { host: bindHost(grpcAddr.host), port: grpcAddr.port },
      pushApiFor(cluster ? cluster.pushSink() : system),
      logger,
      { token: pushToken, credentials: pushSecurity.credentials },
    );
    let grpcClosed: Promise<void> | null = null;
    const closeGrpc = (): Promise<void> => {
      grpcClosed ??= grpcServer.close();
      return grpcClosed;
    };
    closers.push(closeGrpc);

    metrics.bind({
      sessions: () => system.sessions(),
      connections: () => listener.connectionCount,
      quicCounters: () => quic.counters(),
      asyncStats: () => upstream.stats(),
      upstreamHealth: () => pool.health(),
      edgeRefusals: () => ({ ...quic.edgeStats().refused, ...listener.refused }),
      retriesSent: () => quic.edgeStats().retriesSent,
    });
    const metricsAddr = parseAddr(cfg.server.metricsAddr);
    const metricsServer = await startMetricsServer({
      host: bindHost(metricsAddr.host),
      port: metricsAddr.port,
      registry: metrics.registry,
      logger,
    });
    closers.push(() => metricsServer.close());
    const httpAddr = parseAddr(cfg.server.httpAddr);
    const http = await startHttpServer({
      host: bindHost(httpAddr.host),
      port: httpAddr.port,
      logger,
      gateway: {
        config: cfg,
        system,
        connections: () => listener.connectionCount,
        upstreamHealth: () => pool.health(),
        asyncStats: () => upstream.stats(),
        metrics,
        inspector,
        startedAt,
        now: () => clock.now(),
        ...(cluster ? { storeAvailable: () => cluster.storeAvailable } : {}),
      },
    });
    closers.push(() => http.close());

    logger.info(
      {
        quic: `${quicBound.host}:${quicBound.port}`,
        grpc: grpcServer.port,
        grpcSecurity: {
          tls: pushSecurity.tls,
          mtls: pushSecurity.mtls,
          tokenRequired: pushToken !== '',
        },
        upstreamTls: upstreamTls !== null,
        http: http.address.port,
        metrics: metricsServer.address.port,
        eventLog: opts.eventLog ? 'custom' : cluster ? 'jetstream' : 'in-process',
      },
      'gateway listening',
    );

    if (cluster) {
      // Serve at once, or stand by until the serving lease is ours (backup.enabled).
      http.setServing(false);
      cluster.onServingChange = (serving) => {
        http.setServing(serving);
        logger.info({ serving }, serving ? 'serving' : 'standing by');
      };
      await cluster.start();
      http.setServing(cluster.serving);
    }
    http.setReady(true);
    let closing: Promise<void> | null = null;
    return {
      config: cfg,
      logger,
      system,
      listener,
      quic,
      upstream,
      pool,
      tls,
      demo,
      overload,
      metrics,
      http,
      cluster,
      get serving() {
        return cluster ? cluster.serving : true;
      },
      addresses: {
        quic: quicBound,
        grpc: { host: bindHost(grpcAddr.host), port: grpcServer.port },
        http: http.address,
        metrics: metricsServer.address,
      },
      startedAt,
      close() {
        closing ??= (async () => {
          // Real time, not `clock`: the drain deadline is about this process, not sessions.
          const deadline = Date.now() + Math.max(0, cfg.server.drainTimeoutMs - 500);
          draining = true;
          http.setDraining();
          logger.info({ sessions: system.size, connections: listener.connectionCount }, 'draining');
          // No new pushes: producers get UNAVAILABLE and retry elsewhere; calls in flight finish.
          await Promise.race([closeGrpc(), sleep(Math.max(0, deadline - Date.now()) / 2, true)]);
          // Every attached session's connection closes with 0x12 once its queued frames are flushed.
          system.shutdown();
          listener.closeUnbound(CloseCode.SERVER_SHUTDOWN, 'server shutdown');
          while (quic.connectionCount > 0 && Date.now() < deadline) await sleep(20);
          if (quic.connectionCount > 0) {
            logger.warn(
              { connections: quic.connectionCount },
              'drain deadline: closing the remaining connections',
            );
          }
          await closeAll();
        })();
        return closing;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
