/**
 * Prometheus metrics (prom-client, one Registry per gateway) and /performance,
 * assembled from their parts: the metric table (definitions.ts), delivery
 * metrics fed by session facts (delivery.ts), scrape-time gauges (scrape.ts)
 * and the rolling window (performance.ts). This module adds the hooks that are
 * not session facts: client requests, connections, lifecycle, upstream calls
 * and admission refusals.
 */
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { GatewayObservers } from '../actors/observers.js';
import type { Admission, SessionLifecycle } from '../actors/ports.js';
import { GateError } from '../errors.js';
import { ErrorCode, RequestType } from '../protocol/codes.js';
import type { UpstreamResponse } from '../protocol/messages.js';
import { createMetricSet, type GatewayMetricSet } from './definitions.js';
import { DeliveryMetrics } from './delivery.js';
import { type PerformanceReport, PerformanceWindow } from './performance.js';
import { type MetricsSources, ScrapeCollectors } from './scrape.js';
import type { SessionScan } from './session-scan.js';
import { LatencyWindow } from './window.js';

export type { PerformanceReport } from './performance.js';
export type { MetricsSources } from './scrape.js';
export type { SessionScan } from './session-scan.js';

/** Why the gateway refused work under load (overload_protection). */
export type OverloadKind = 'connection' | 'request' | 'upstream_queue' | 'session_queue';

export interface GatewayMetricsOptions {
  /** Collect prom-client's default process metrics (default true). */
  defaultMetrics?: boolean;
  /** Window of /performance rates and percentiles (default 10 s). */
  windowMs?: number;
  /** Labels on every metric (e.g. { server_id: 'gate-001' }). */
  labels?: Record<string, string>;
}

const REQUEST_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(RequestType).map(([name, n]) => [n, name.toLowerCase()]),
);
const END_REASONS = new Set([
  'stop',
  'session_timeout',
  'resume_window_expired',
  'replaced_by_new_session',
  'kicked',
  'admin_kick',
]);
const OVERLOAD_KINDS: OverloadKind[] = ['connection', 'request', 'upstream_queue', 'session_queue'];

function upstreamOutcome(err: unknown): string {
  if (!(err instanceof GateError)) return 'error';
  switch (err.code) {
    case ErrorCode.OVERLOADED:
      return 'overloaded';
    case ErrorCode.UPSTREAM_TIMEOUT:
      return 'timeout';
    case ErrorCode.UPSTREAM_UNAVAILABLE:
      return 'unavailable';
    default:
      return 'error';
  }
}

export class GatewayMetrics {
  readonly registry = new Registry();
  /** Hooks for GatewayObservers: counters only, no allocation per push. */
  readonly observers: Required<GatewayObservers>;
  readonly metrics: GatewayMetricSet;

  private readonly scrape = new ScrapeCollectors();
  private readonly delivery: DeliveryMetrics;
  private readonly window: PerformanceWindow;
  private readonly requestByType: Array<{ inc(): void }> = [];
  private lastConnections = 0;

  constructor(opts: GatewayMetricsOptions = {}) {
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    const m = createMetricSet(this.registry, this.scrape.collectors);
    this.metrics = m;
    this.scrape.metrics = m;
    const latency = new LatencyWindow();
    this.delivery = new DeliveryMetrics(m, latency, () => performance.now());
    this.window = new PerformanceWindow(opts.windowMs ?? 10_000, this.delivery.totals, latency, () =>
      this.scrape.bound?.quicCounters(),
    );
    // Children resolved once; label values are fixed sets.
    for (const [n, name] of Object.entries(REQUEST_TYPE_NAMES)) {
      this.requestByType[Number(n)] = m.totalRequests.labels(name);
      m.totalRequests.inc({ type: name }, 0);
    }
    for (const kind of OVERLOAD_KINDS) m.overloadRefusals.inc({ kind }, 0);

    this.observers = {
      onEffect: (_actor, output) => this.delivery.observe(output),
      onLifecycle: (event) => this.onLifecycle(event),
      onConnectionChange: (active) => this.onConnectionChange(active),
      onRequest: (type) => this.onRequest(type),
    };
  }

  /** Start scrape-time gauges and the 1 s sampler behind /performance. */
  bind(sources: MetricsSources): void {
    this.scrape.bind(sources);
    this.window.start();
  }

  stop(): void {
    this.window.stop();
  }

  /** Count a refusal made outside the Admission the gateway wraps. */
  overloadRefused(kind: OverloadKind, n = 1): void {
    this.metrics.overloadRefusals.inc({ kind }, n);
  }

  /** Times and counts one upstream call (gatesvr_upstream_requests, gatesvr_async_task_duration). */
  timeUpstream(service: string, call: Promise<UpstreamResponse>): Promise<UpstreamResponse> {
    const t0 = performance.now();
    const done = (outcome: string) => {
      this.metrics.upstreamRequests.inc({ service, outcome });
      this.metrics.asyncTaskDuration.observe({ service }, (performance.now() - t0) / 1000);
    };
    call.then(
      (res) => done(res.code === 0 ? 'ok' : 'app_error'),
      (err: unknown) => done(upstreamOutcome(err)),
    );
    return call;
  }

  /** Counts connections and requests the given admission refuses. */
  wrapAdmission(admission: Admission): Admission {
    const refused = (kind: OverloadKind, ok: boolean) => {
      if (!ok) this.metrics.overloadRefusals.inc({ kind });
      return ok;
    };
    const wrapped: Admission = {
      admitConnection: (active) => refused('connection', admission.admitConnection(active)),
      admitRequest: (sessionId) => refused('request', admission.admitRequest(sessionId)),
    };
    if (admission.connectionClosed) wrapped.connectionClosed = () => admission.connectionClosed!();
    return wrapped;
  }

  /** Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /** One pass over every live session (see ScrapeCollectors.scan). */
  scan(cached = false): SessionScan {
    return this.scrape.scan(cached);
  }

  /** QPS, latency percentiles and throughput over the last window (10 s). */
  performance(): PerformanceReport {
    return this.window.report();
  }

  private onLifecycle(event: SessionLifecycle): void {
    const m = this.metrics;
    switch (event.type) {
      case 'created':
        m.sessionsCreated.inc();
        this.onRequest(RequestType.START);
        return;
      case 'resumed':
        this.onRequest(RequestType.START);
        (event.takeover ? m.takeovers : m.resumes).inc();
        return;
      case 'ended':
        m.sessionsEnded.inc({ reason: END_REASONS.has(event.reason) ? event.reason : 'other' });
        return;
    }
  }

  private onConnectionChange(active: number): void {
    if (active > this.lastConnections) this.metrics.connectionsTotal.inc(active - this.lastConnections);
    this.lastConnections = active;
  }

  private onRequest(type: number): void {
    this.delivery.totals.requests++;
    (this.requestByType[type] ?? this.requestByType[0])?.inc();
  }
}
