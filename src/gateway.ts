/**
 * Wiring: config -> core (upstreams, cluster, session system) -> listeners ->
 * serve, and a graceful drain. Each step is its own module in src/wiring; this
 * one only orders them and hands out the parts.
 */

import type { GatewayObservers } from './actors/observers.js';
import type { OverloadProtector } from './actors/overload.js';
import type { Logger } from './actors/ports.js';
import { type Admission, type Clock, type EventLog, silentLogger, systemClock } from './actors/ports.js';
import type { SessionSystem } from './actors/session-system.js';
import type { Authenticator } from './auth/authenticator.js';
import type { Cluster } from './cluster/port.js';
import { closeLogger, createLogger } from './config/logger.js';
import type { GatewayConfig } from './config/schema.js';
import type { TlsMaterial } from './config/tls.js';
import type { DemoUpstreams } from './demo/upstreams.js';
import type { GatewayMetrics } from './metrics/gateway-metrics.js';
import type { ClientListener } from './transport/client-listener.js';
import type { AsyncProcessor } from './transport/grpc/async-processor.js';
import type { UpstreamPool } from './transport/grpc/upstream-pool.js';
import type { HttpServer } from './transport/http/http-server.js';
import { NatsCluster } from './transport/nats/cluster.js';
import type { HostPort, QuicServer } from './transport/quic/types.js';
import { Closers } from './wiring/closers.js';
import { buildCore } from './wiring/core.js';
import { drain, serve } from './wiring/lifecycle.js';
import { startListeners } from './wiring/listeners.js';
import { loadSecurity } from './wiring/security.js';

export type { GatewayObservers } from './actors/observers.js';
export { sessionConfigOf } from './wiring/core.js';
export { listenerEdgeLimits, quicEdgeLimits } from './wiring/listeners.js';

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
  /** The other gateways (NATS when nats.url is set), or this one alone. */
  readonly cluster: Cluster;
  /** The NATS wiring itself when nats.url is set (tests, measurements); else null. */
  readonly nats: NatsCluster | null;
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

export async function startGateway(cfg: GatewayConfig, opts: GatewayOptions = {}): Promise<Gateway> {
  const own = opts.logger ? null : createLogger(cfg.log);
  const logger: Logger = opts.logger ?? own ?? silentLogger;
  const clock = opts.clock ?? systemClock;
  const startedAt = clock.now();
  const closers = new Closers(logger);
  // A logger made here is drained last (closers run in reverse), after the final lines.
  if (own) closers.add(() => closeLogger(own));
  try {
    const security = await loadSecurity(cfg, opts.authenticator, logger, closers);
    const core = await buildCore(cfg, { ...opts, logger, clock, closers, upstreamTls: security.upstreamTls });
    const l = await startListeners(cfg, { core, security, logger, clock, closers, startedAt });
    logger.info(
      {
        quic: `${l.quicBound.host}:${l.quicBound.port}`,
        grpc: l.grpc.port,
        grpcSecurity: {
          tls: security.pushSecurity.tls,
          mtls: security.pushSecurity.mtls,
          tokenRequired: security.pushToken !== '',
        },
        upstreamTls: security.upstreamTls !== null,
        http: l.http.address.port,
        metrics: l.metricsServer.address.port,
        eventLog: core.cluster.eventLogKind,
      },
      'gateway listening',
    );
    await serve(core.cluster, l.http, logger);
    let closing: Promise<void> | null = null;
    return {
      config: cfg,
      logger,
      system: core.system,
      listener: l.listener,
      quic: l.quic,
      upstream: core.upstream,
      pool: core.pool,
      tls: security.tls,
      demo: core.demo,
      overload: core.overload,
      metrics: core.metrics,
      http: l.http,
      cluster: core.cluster,
      nats: core.cluster instanceof NatsCluster ? core.cluster : null,
      get serving() {
        return core.cluster.serving;
      },
      addresses: {
        quic: l.quicBound,
        grpc: l.grpcAddress,
        http: l.http.address,
        metrics: l.metricsServer.address,
      },
      startedAt,
      close() {
        closing ??= drain(cfg.server.drainTimeoutMs, core, l, logger, closers);
        return closing;
      },
    };
  } catch (err) {
    await closers.closeAll();
    throw err;
  }
}
