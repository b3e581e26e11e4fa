/**
 * The gateway's core, nothing listening yet: upstream pool and processor (with
 * in-process demo upstreams for services without addresses), overload
 * protection, the cluster (or the gateway alone), metrics and the session system.
 */
import { MemoryEventLog } from '../actors/memory-event-log.js';
import type { GatewayObservers } from '../actors/observers.js';
import { OverloadProtector } from '../actors/overload.js';
import { type Admission, admitAll, type Clock, type EventLog, type Logger } from '../actors/ports.js';
import { SessionSystem } from '../actors/session-system.js';
import { LocalCluster } from '../cluster/local.js';
import type { Cluster } from '../cluster/port.js';
import type { GatewayConfig } from '../config/schema.js';
import { type DemoUpstreams, startDemoUpstreams } from '../demo/upstreams.js';
import { createRoutingTable, HELLO_SERVICE } from '../machines/routing.js';
import type { SessionConfig } from '../machines/session-types.js';
import { composeObservers } from '../metrics/compose.js';
import { GatewayMetrics } from '../metrics/gateway-metrics.js';
import { type AsyncProcessor, createAsyncProcessor } from '../transport/grpc/async-processor.js';
import type { ChannelSecurity } from '../transport/grpc/credentials.js';
import { createUpstreamPool, type UpstreamPool } from '../transport/grpc/upstream-pool.js';
import { SessionInspector } from '../transport/http/inspector.js';
import { NatsCluster } from '../transport/nats/cluster.js';
import type { Closers } from './closers.js';

export interface CoreOptions {
  logger: Logger;
  clock: Clock;
  closers: Closers;
  upstreamTls: ChannelSecurity | null;
  /** Replaces the event log (and with it any NATS wiring): tests, custom stores. */
  eventLog?: EventLog;
  /** Replaces the overload protector built from cfg.overload_protection. */
  admission?: Admission;
  observers?: GatewayObservers;
}

export interface Core {
  demo: DemoUpstreams | null;
  pool: UpstreamPool;
  upstream: AsyncProcessor;
  /** Null when `CoreOptions.admission` replaced it. */
  overload: OverloadProtector | null;
  /** What the client listener asks (the overload protector or its replacement, counted). */
  admission: Admission;
  cluster: Cluster;
  metrics: GatewayMetrics;
  inspector: SessionInspector | null;
  observers: GatewayObservers;
  system: SessionSystem;
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

export async function buildCore(cfg: GatewayConfig, o: CoreOptions): Promise<Core> {
  const { logger, clock, closers } = o;
  const { demo, pool } = await startUpstreams(cfg, o);
  const op = cfg.overloadProtection;
  const overload = o.admission ? null : new OverloadProtector({ config: op, logger, now: () => clock.now() });
  const upstream = createAsyncProcessor(pool, {
    maxConcurrent: op.maxUpstreamConcurrent,
    maxQueue: op.maxUpstreamQueue,
    onWarning: (stats) => {
      logger.warn({ ...stats }, 'upstream queue above warning threshold');
      overload?.noteWarning('upstream_queue', { queued: stats.queued });
    },
  });
  closers.add(() => upstream.close());

  const cluster = await connectCluster(cfg, o);
  closers.add(() => cluster.close());
  const metrics = new GatewayMetrics({ labels: { server_id: cfg.backup.serverId } });
  closers.add(() => metrics.stop());
  const inspector = cfg.inspector.enabled ? new SessionInspector() : null;
  const observers = composeObservers(metrics.observers, inspector, o.observers);
  const routing = createRoutingTable(cfg.upstreamServices.routes);
  const system = new SessionSystem({
    config: {
      ...sessionConfigOf(cfg),
      maxFrameBytes: Math.min(cfg.server.maxFrameBytes, cluster.maxRecordBytes),
    },
    route: (a) => routing.serviceFor(a),
    helloService: HELLO_SERVICE,
    upstream: {
      call: (service, request, timeoutMs) => {
        const p = metrics.timeUpstream(service, upstream.submit(service, request, timeoutMs));
        return overload ? overload.trackUpstream(p) : p;
      },
    },
    upstreamTimeoutMs: op.upstreamTimeoutMs,
    log: cluster.eventLog,
    clock,
    logger,
    observe: observers.onEffect,
    onLifecycle: (event) => {
      if (event.type === 'ended') overload?.sessionEnded(event.sessionId);
      cluster.onLifecycle(event);
      observers.onLifecycle?.(event);
    },
    inspect: inspector?.inspect,
    storeAvailable: () => cluster.storeAvailable,
    onSessionFailed: (sessionId) => cluster.onSessionFailed(sessionId),
  });
  closers.add(() => system.dispose());
  cluster.attach(system);
  inspector?.attach((id) => system.get(id));
  const admission = metrics.wrapAdmission(o.admission ?? overload ?? admitAll);
  return { demo, pool, upstream, overload, admission, cluster, metrics, inspector, observers, system };
}

/** Services without configured addresses run as demo upstreams in this process. */
async function startUpstreams(
  cfg: GatewayConfig,
  o: CoreOptions,
): Promise<{ demo: DemoUpstreams | null; pool: UpstreamPool }> {
  const services: Record<string, string[]> = {
    hello: cfg.upstreamServices.hello,
    business: cfg.upstreamServices.business,
    zone: cfg.upstreamServices.zone,
  };
  let demo: DemoUpstreams | null = null;
  const missing = Object.keys(services).filter((k) => services[k]!.length === 0);
  if (missing.length > 0) {
    const started = await startDemoUpstreams({ host: '127.0.0.1' });
    demo = started;
    o.closers.add(() => started.close());
    for (const k of missing) services[k] = started.addresses[k as keyof DemoUpstreams['addresses']];
    o.logger.info({ services: missing, addresses: started.addresses }, 'demo upstreams running in-process');
  }
  // Configured upstreams get upstream_tls; the in-process demo stays plaintext on loopback.
  const pool = createUpstreamPool(services, {
    logger: o.logger,
    channelSecurity: (service) => (missing.includes(service) ? null : o.upstreamTls),
  });
  o.closers.add(() => pool.close());
  return { demo, pool };
}

/**
 * nats.url set: session events in JetStream, pushes and lifecycle over NATS, HA
 * lease. A given event log means this gateway alone, whatever nats.url says.
 */
async function connectCluster(cfg: GatewayConfig, o: CoreOptions): Promise<Cluster> {
  if (o.eventLog) return new LocalCluster(o.eventLog, 'custom');
  if (cfg.nats.url !== '') return NatsCluster.connect(cfg, o.logger);
  return new LocalCluster(new MemoryEventLog(cfg.server.maxQueue), 'in-process');
}
