/**
 * Prometheus metrics (prom-client, one Registry per gateway) and the rolling
 * numbers behind /performance. Fed by the gateway's observer hooks, which only
 * bump counters and observe histograms; gauges are computed at scrape time from
 * the live registry of session actors (collect()).
 *
 * Names follow seed section 6.4.2 (gatesvr_*); durations are in seconds.
 */
import { performance } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SessionActor } from '../actors/session-actor.js';
import type { SessionLifecycle } from '../actors/session-system.js';
import type { GatewayObservers } from '../gateway.js';
import type { SessionEffect } from '../machines/session-machine.js';
import type { SessionState } from '../machines/session-state.js';
import { CloseCode, ErrorCode, GateError, RequestType } from '../protocol/codes.js';
import type { UpstreamResponse } from '../protocol/messages.js';
import { type Admission, LISTENER_REFUSALS } from '../transport/client-listener.js';
import type { AsyncProcessorStats } from '../transport/grpc/async-processor.js';
import type { EndpointHealth } from '../transport/grpc/upstream-pool.js';
import { EDGE_REFUSALS } from '../transport/quic/edge-guard.js';
import type { TransportCounters } from '../transport/quic/types.js';
import { frameSeq } from './frame-seq.js';
import { type LatencySummary, LatencyWindow, RateHistory } from './window.js';

/** Where scrape-time gauges come from (the gateway's parts, narrowed). */
export interface MetricsSources {
  sessions(): Iterable<{ readonly state: SessionState }>;
  connections(): number;
  quicCounters(): TransportCounters;
  asyncStats(): AsyncProcessorStats;
  upstreamHealth(): Record<string, EndpointHealth[]>;
  /** Totals of connections and Initials refused at the QUIC edge, by reason (docs/security-edge.md). */
  edgeRefusals?(): Record<string, number>;
  /** Total stateless Retry packets sent. */
  retriesSent?(): number;
}

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

/** A point-in-time scan of every session actor (for gauges and /stats). */
export interface SessionScan {
  total: number;
  byPhase: { inited: number; normal: number; closed: number };
  attached: number;
  detached: number;
  /** zone -> sessions (logged-in sessions only). */
  zones: Record<string, number>;
  /** Reliable pushes queued or unacknowledged. */
  pending: number;
  /** Notifies held for an in-flight request. */
  held: number;
  /** BUSINESS requests accepted and not answered yet. */
  inflight: number;
}

export interface PerformanceReport {
  windowSeconds: number;
  qps: { requests: number; business: number };
  latencyMs: LatencySummary;
  throughput: {
    pushesPerSecond: number;
    framesPerSecond: number;
    bytesSentPerSecond: number;
    bytesReceivedPerSecond: number;
  };
  totals: {
    requests: number;
    business: number;
    pushes: number;
    framesSent: number;
    retransmissions: number;
    bytesSent: number;
    bytesReceived: number;
    packetsSent: number;
    packetsReceived: number;
    packetsLost: number;
  };
  quicRttMs: number;
}

type TotalKey = 'requests' | 'business' | 'pushes' | 'frames' | 'bytesSent' | 'bytesReceived';

/** Per-actor bookkeeping of the effect stream (kept in a WeakMap: gone with the actor). */
interface ActorTrack {
  /** Highest reliable seq written on the current link (retransmission detection). */
  maxSentSeq: number;
  /** Sampled ACK round trip: one outstanding seq per session and when it left. */
  probeSeq: number;
  probeAt: number;
  /** clientSeq -> when and where the BUSINESS request went upstream. */
  started: Map<number, { at: number; service: string }> | null;
}

const ZERO_QUIC: TransportCounters = Object.freeze({
  packetsSent: 0,
  packetsReceived: 0,
  bytesSent: 0,
  bytesReceived: 0,
  packetsLost: 0,
  rttMs: 0,
});
const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const REQUEST_TYPE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(RequestType).map(([name, n]) => [n, name.toLowerCase()]),
);
const CLOSE_CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(CloseCode).map(([name, n]) => [n, name.toLowerCase()]),
);
const END_REASONS = new Set([
  'stop',
  'session_timeout',
  'resume_window_expired',
  'replaced_by_new_session',
  'kicked',
  'admin_kick',
]);

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

  private sources: MetricsSources | null = null;
  private readonly tracks = new WeakMap<SessionActor, ActorTrack>();
  private readonly totals = { requests: 0, business: 0, pushes: 0, frames: 0, retransmissions: 0 };
  private readonly windowMs: number;
  private readonly latency = new LatencyWindow();
  private readonly history: RateHistory<TotalKey>;
  private sampler: NodeJS.Timeout | null = null;
  private lastConnections = 0;
  private scanCache: SessionScan | null = null;
  private lastAsync: AsyncProcessorStats = { inflight: 0, queued: 0, rejected: 0, completed: 0, expired: 0 };
  private lastQuic: TransportCounters = ZERO_QUIC;
  private lastQuicPackets: TransportCounters = ZERO_QUIC;

  // Seed 6.4.2
  readonly activeConnections: Gauge;
  readonly totalRequests: Counter<'type'>;
  readonly requestDuration: Histogram<'service'>;
  readonly upstreamRequests: Counter<'service' | 'outcome'>;
  readonly messageQueueSize: Gauge;
  readonly sessionCount: Gauge<'phase'>;
  readonly asyncQueueSize: Gauge;
  readonly asyncTasksTotal: Counter<'status'>;
  readonly asyncTaskDuration: Histogram<'service'>;
  readonly serviceDistribution: Gauge<'service'>;
  // Delivery, sessions, overload
  readonly pushes: Counter<'kind'>;
  readonly heldNotifies: Counter;
  readonly pushRefusals: Counter<'reason'>;
  readonly framesSent: Counter;
  readonly retransmissions: Counter;
  readonly ackRoundTrip: Histogram;
  readonly sessionsCreated: Counter;
  readonly sessionsEnded: Counter<'reason'>;
  readonly resumes: Counter;
  readonly takeovers: Counter;
  readonly connectionsTotal: Counter;
  readonly linkCloses: Counter<'code'>;
  /** Exported for the overload protector and others: `metrics.overloadRefused(kind)`. */
  readonly overloadRefusals: Counter<'kind'>;

  // Pre-resolved children for the hot paths.
  private readonly requestByType: Array<{ inc(): void }>;
  private readonly answerPushes: { inc(): void };
  private readonly notifyPushes: { inc(): void };

  constructor(opts: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    if (opts.labels) this.registry.setDefaultLabels(opts.labels);
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.windowMs = opts.windowMs ?? 10_000;
    const now = performance.now();
    this.history = new RateHistory<TotalKey>(this.windowMs, { t: now, v: this.currentTotals(null) });
    const self = this;

    this.activeConnections = new Gauge({
      name: 'gatesvr_active_connections',
      help: 'Client connections currently open (QUIC session streams).',
      registers,
      collect() {
        if (self.sources) this.set(self.sources.connections());
      },
    });
    this.totalRequests = new Counter({
      name: 'gatesvr_total_requests',
      help: 'Client frames accepted, by request type (start, stop, heartbeat, business, ack).',
      labelNames: ['type'],
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'gatesvr_request_duration',
      help: 'Seconds from a BUSINESS request going upstream to its answer being queued for the client.',
      labelNames: ['service'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.upstreamRequests = new Counter({
      name: 'gatesvr_upstream_requests',
      help: 'Upstream calls by service and outcome (ok, app_error, timeout, overloaded, unavailable, error).',
      labelNames: ['service', 'outcome'],
      registers,
    });
    this.messageQueueSize = new Gauge({
      name: 'gatesvr_message_queue_size',
      help: 'Reliable pushes queued or awaiting ACK, summed over sessions.',
      registers,
      collect() {
        if (self.sources) this.set(self.scan(true).pending);
      },
    });
    this.sessionCount = new Gauge({
      name: 'gatesvr_session_count',
      help: 'Live sessions by phase (inited, normal).',
      labelNames: ['phase'],
      registers,
      collect() {
        if (!self.sources) return;
        const s = self.scan(true);
        this.set({ phase: 'inited' }, s.byPhase.inited);
        this.set({ phase: 'normal' }, s.byPhase.normal);
      },
    });
    new Gauge({
      name: 'gatesvr_detached_sessions',
      help: 'Live sessions without a connection (resumable within resume_window).',
      registers,
      collect() {
        if (self.sources) this.set(self.scan(true).detached);
      },
    });
    new Gauge({
      name: 'gatesvr_held_notifies',
      help: 'Notifies held for an in-flight request (sync hint), summed over sessions.',
      registers,
      collect() {
        if (self.sources) this.set(self.scan(true).held);
      },
    });
    new Gauge({
      name: 'gatesvr_inflight_requests',
      help: 'BUSINESS requests accepted and not answered yet, summed over sessions.',
      registers,
      collect() {
        if (self.sources) this.set(self.scan(true).inflight);
      },
    });
    this.asyncQueueSize = new Gauge({
      name: 'gatesvr_async_queue_size',
      help: 'Upstream calls waiting for a concurrency slot.',
      registers,
      collect() {
        if (self.sources) this.set(self.asyncStats().queued);
      },
    });
    new Gauge({
      name: 'gatesvr_async_inflight',
      help: 'Upstream calls running.',
      registers,
      collect() {
        if (self.sources) this.set(self.asyncStats().inflight);
      },
    });
    this.asyncTasksTotal = new Counter({
      name: 'gatesvr_async_tasks_total',
      help: 'Upstream tasks of the async processor by status (completed, rejected, expired).',
      labelNames: ['status'],
      registers,
      collect() {
        if (!self.sources) return;
        const cur = self.sources.asyncStats();
        const last = self.lastAsync;
        const d = (a: number, b: number) => Math.max(0, a - b);
        this.inc({ status: 'completed' }, d(cur.completed, last.completed));
        this.inc({ status: 'rejected' }, d(cur.rejected, last.rejected));
        this.inc({ status: 'expired' }, d(cur.expired, last.expired));
        self.overloadRefusals.inc({ kind: 'upstream_queue' }, d(cur.rejected, last.rejected));
        self.lastAsync = { ...cur };
      },
    });
    this.asyncTaskDuration = new Histogram({
      name: 'gatesvr_async_task_duration',
      help: 'Seconds an upstream call took from submission (queue wait included) to its end.',
      labelNames: ['service'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.serviceDistribution = new Gauge({
      name: 'gatesvr_service_distribution',
      help: 'Upstream calls in flight per service type (hello, business, zone).',
      labelNames: ['service'],
      registers,
      collect() {
        if (!self.sources) return;
        for (const [service, eps] of Object.entries(self.sources.upstreamHealth())) {
          let n = 0;
          for (const ep of eps) n += ep.inflight;
          this.set({ service }, n);
        }
      },
    });
    new Gauge({
      name: 'gatesvr_upstream_endpoint_up',
      help: '1 when an upstream address is healthy, 0 when it is skipped.',
      labelNames: ['service', 'address'],
      registers,
      collect() {
        if (!self.sources) return;
        for (const [service, eps] of Object.entries(self.sources.upstreamHealth())) {
          for (const ep of eps) this.set({ service, address: ep.address }, ep.healthy ? 1 : 0);
        }
      },
    });
    this.pushes = new Counter({
      name: 'gatesvr_pushes_total',
      help: 'Reliable pushes given a seq and queued for delivery (answer, notify).',
      labelNames: ['kind'],
      registers,
    });
    this.heldNotifies = new Counter({
      name: 'gatesvr_notifies_held_total',
      help: 'Notifies held back to be ordered around the answer of an in-flight request.',
      registers,
    });
    this.pushRefusals = new Counter({
      name: 'gatesvr_push_refusals_total',
      help: 'Producer pushes refused by a session (queue_full).',
      labelNames: ['reason'],
      registers,
    });
    this.framesSent = new Counter({
      name: 'gatesvr_frames_sent_total',
      help: 'Frames written to client connections (reliable and control).',
      registers,
    });
    this.retransmissions = new Counter({
      name: 'gatesvr_retransmissions_total',
      help: 'Reliable pushes written again on the same connection after ack_timeout.',
      registers,
    });
    this.ackRoundTrip = new Histogram({
      name: 'gatesvr_ack_round_trip',
      help: 'Seconds from a reliable push leaving to its ACK (sampled: one push in flight per session).',
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.sessionsCreated = new Counter({
      name: 'gatesvr_sessions_created_total',
      help: 'New sessions started.',
      registers,
    });
    this.sessionsEnded = new Counter({
      name: 'gatesvr_sessions_ended_total',
      help: 'Sessions ended, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.resumes = new Counter({
      name: 'gatesvr_session_resumes_total',
      help: 'Sessions resumed on a new connection after a disconnect.',
      registers,
    });
    this.takeovers = new Counter({
      name: 'gatesvr_session_takeovers_total',
      help: 'Sessions taken over by a new connection while still attached.',
      registers,
    });
    this.connectionsTotal = new Counter({
      name: 'gatesvr_connections_total',
      help: 'Client connections accepted.',
      registers,
    });
    this.linkCloses = new Counter({
      name: 'gatesvr_session_link_closes_total',
      help: 'Connections closed by a session, by close code (ack_timeout, session_taken_over, ...).',
      labelNames: ['code'],
      registers,
    });
    this.overloadRefusals = new Counter({
      name: 'gatesvr_overload_refusals_total',
      help: 'Work refused by overload protection (connection, request, upstream_queue, session_queue).',
      labelNames: ['kind'],
      registers,
    });
    let lastEdge: Record<string, number> = {};
    const edgeRefusals = new Counter({
      name: 'gatesvr_edge_refusals_total',
      help: 'QUIC connections refused or Initials dropped at the edge, by reason (ip_connections, ip_handshakes, handshakes, max_connections, handshake_timeout, retry_token_invalid, pre_start_displaced, pre_start_full, start_timeout, frame_rate).',
      labelNames: ['reason'],
      registers,
      collect() {
        const cur = self.sources?.edgeRefusals?.();
        if (!cur) return;
        for (const [reason, n] of Object.entries(cur))
          this.inc({ reason }, Math.max(0, n - (lastEdge[reason] ?? 0)));
        lastEdge = cur;
      },
    });
    for (const reason of [...EDGE_REFUSALS, ...LISTENER_REFUSALS]) edgeRefusals.inc({ reason }, 0);
    let lastRetries = 0;
    new Counter({
      name: 'gatesvr_quic_retries_total',
      help: 'Stateless Retry packets sent (address validation, server.retry_above_rate).',
      registers,
      collect() {
        const cur = self.sources?.retriesSent?.();
        if (cur === undefined) return;
        this.inc(Math.max(0, cur - lastRetries));
        lastRetries = cur;
      },
    });
    new Counter({
      name: 'gatesvr_quic_packets_total',
      help: 'QUIC packets by direction (sent, received, lost).',
      labelNames: ['direction'],
      registers,
      collect() {
        if (!self.sources) return;
        const cur = self.sources.quicCounters();
        const last = self.lastQuicPackets;
        this.inc({ direction: 'sent' }, Math.max(0, cur.packetsSent - last.packetsSent));
        this.inc({ direction: 'received' }, Math.max(0, cur.packetsReceived - last.packetsReceived));
        this.inc({ direction: 'lost' }, Math.max(0, cur.packetsLost - last.packetsLost));
        self.lastQuicPackets = { ...cur };
      },
    });
    new Counter({
      name: 'gatesvr_quic_bytes_total',
      help: 'QUIC bytes by direction (sent, received).',
      labelNames: ['direction'],
      registers,
      collect() {
        if (!self.sources) return;
        const cur = self.sources.quicCounters();
        const last = self.lastQuic;
        this.inc({ direction: 'sent' }, Math.max(0, cur.bytesSent - last.bytesSent));
        this.inc({ direction: 'received' }, Math.max(0, cur.bytesReceived - last.bytesReceived));
        self.lastQuic = { ...cur };
      },
    });

    // Children resolved once; label values are fixed sets.
    this.requestByType = [];
    for (const [n, name] of Object.entries(REQUEST_TYPE_NAMES)) {
      this.requestByType[Number(n)] = this.totalRequests.labels(name);
      this.totalRequests.inc({ type: name }, 0);
    }
    this.answerPushes = this.pushes.labels('answer');
    this.notifyPushes = this.pushes.labels('notify');
    for (const kind of ['answer', 'notify']) this.pushes.inc({ kind }, 0);
    for (const kind of ['connection', 'request', 'upstream_queue', 'session_queue'])
      this.overloadRefusals.inc({ kind }, 0);

    this.observers = {
      onEffect: (actor, effect) => this.onEffect(actor, effect),
      onLifecycle: (event) => this.onLifecycle(event),
      onConnectionChange: (active) => this.onConnectionChange(active),
      onRequest: (type) => this.onRequest(type),
    };
  }

  /** Start scrape-time gauges and the 1 s sampler behind /performance. */
  bind(sources: MetricsSources): void {
    this.sources = sources;
    this.lastQuic = { ...sources.quicCounters() };
    this.lastQuicPackets = this.lastQuic;
    this.lastAsync = { ...sources.asyncStats() };
    this.sampler ??= setInterval(() => {
      this.history.record(performance.now(), this.currentTotals(this.sources));
    }, 1000);
    this.sampler.unref();
  }

  stop(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
  }

  /** Count a refusal made outside the Admission the gateway wraps. */
  overloadRefused(kind: OverloadKind, n = 1): void {
    this.overloadRefusals.inc({ kind }, n);
  }

  /** Times and counts one upstream call (gatesvr_upstream_requests, gatesvr_async_task_duration). */
  timeUpstream(service: string, call: Promise<UpstreamResponse>): Promise<UpstreamResponse> {
    const t0 = performance.now();
    call.then(
      (res) => this.upstreamDone(service, res.code === 0 ? 'ok' : 'app_error', t0),
      (err: unknown) => this.upstreamDone(service, upstreamOutcome(err), t0),
    );
    return call;
  }

  /** Counts connections and requests the given admission refuses. */
  wrapAdmission(admission: Admission): Admission {
    const wrapped: Admission = {
      admitConnection: (active) => {
        const ok = admission.admitConnection(active);
        if (!ok) this.overloadRefusals.inc({ kind: 'connection' });
        return ok;
      },
      admitRequest: (sessionId) => {
        const ok = admission.admitRequest(sessionId);
        if (!ok) this.overloadRefusals.inc({ kind: 'request' });
        return ok;
      },
    };
    if (admission.connectionClosed) wrapped.connectionClosed = () => admission.connectionClosed!();
    return wrapped;
  }

  /** Prometheus text exposition. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * One pass over every live session. `cached` reuses the scan made earlier in the
   * same synchronous run: prom-client calls every collect() of one scrape in one
   * loop, so several gauges share a pass; the cache is dropped at the next microtask.
   */
  scan(cached = false): SessionScan {
    if (cached && this.scanCache) return this.scanCache;
    const scan: SessionScan = {
      total: 0,
      byPhase: { inited: 0, normal: 0, closed: 0 },
      attached: 0,
      detached: 0,
      zones: {},
      pending: 0,
      held: 0,
      inflight: 0,
    };
    if (this.sources) {
      for (const actor of this.sources.sessions()) {
        const s = actor.state;
        scan.total++;
        scan.byPhase[s.phase]++;
        if (s.attached) scan.attached++;
        else scan.detached++;
        if (s.phase === 'normal') {
          const z = String(s.zone);
          scan.zones[z] = (scan.zones[z] ?? 0) + 1;
        }
        scan.pending += s.queue.size;
        scan.held += s.binder.count;
        scan.inflight += s.inflight.size;
      }
    }
    if (cached) {
      this.scanCache = scan;
      queueMicrotask(() => {
        this.scanCache = null;
      });
    }
    return scan;
  }

  /** QPS, latency percentiles and throughput over the last window (10 s). */
  performance(): PerformanceReport {
    const now = performance.now();
    const cur = this.currentTotals(this.sources);
    const { seconds, perSecond } = this.history.rates(now, cur);
    const q = this.sources?.quicCounters();
    return {
      windowSeconds: Math.round(seconds * 1000) / 1000,
      qps: { requests: perSecond.requests, business: perSecond.business },
      latencyMs: this.latency.summary(now - this.windowMs),
      throughput: {
        pushesPerSecond: perSecond.pushes,
        framesPerSecond: perSecond.frames,
        bytesSentPerSecond: perSecond.bytesSent,
        bytesReceivedPerSecond: perSecond.bytesReceived,
      },
      totals: {
        requests: this.totals.requests,
        business: this.totals.business,
        pushes: this.totals.pushes,
        framesSent: this.totals.frames,
        retransmissions: this.totals.retransmissions,
        bytesSent: q?.bytesSent ?? 0,
        bytesReceived: q?.bytesReceived ?? 0,
        packetsSent: q?.packetsSent ?? 0,
        packetsReceived: q?.packetsReceived ?? 0,
        packetsLost: q?.packetsLost ?? 0,
      },
      quicRttMs: q?.rttMs ?? 0,
    };
  }

  private asyncStats(): AsyncProcessorStats {
    return this.sources ? this.sources.asyncStats() : this.lastAsync;
  }

  private currentTotals(sources: MetricsSources | null): Record<TotalKey, number> {
    const q = sources?.quicCounters();
    return {
      requests: this.totals.requests,
      business: this.totals.business,
      pushes: this.totals.pushes,
      frames: this.totals.frames,
      bytesSent: q?.bytesSent ?? 0,
      bytesReceived: q?.bytesReceived ?? 0,
    };
  }

  private upstreamDone(service: string, outcome: string, t0: number): void {
    this.upstreamRequests.inc({ service, outcome });
    this.asyncTaskDuration.observe({ service }, (performance.now() - t0) / 1000);
  }

  private track(actor: SessionActor): ActorTrack {
    let t = this.tracks.get(actor);
    if (!t) {
      t = { maxSentSeq: 0, probeSeq: 0, probeAt: 0, started: null };
      this.tracks.set(actor, t);
    }
    return t;
  }

  private onEffect(actor: SessionActor, effect: SessionEffect): void {
    switch (effect.type) {
      case 'events': {
        let t: ActorTrack | undefined;
        for (const e of effect.events) {
          switch (e.type) {
            case 'pushed':
              this.totals.pushes++;
              if (e.answers > 0) {
                this.answerPushes.inc();
                t ??= this.track(actor);
                this.answered(t, e.answers);
              } else {
                this.notifyPushes.inc();
              }
              break;
            case 'held':
              this.heldNotifies.inc();
              break;
            case 'acked':
              t ??= this.track(actor);
              if (t.probeSeq > 0 && e.seq >= t.probeSeq) {
                this.ackRoundTrip.observe((performance.now() - t.probeAt) / 1000);
                t.probeSeq = 0;
              }
              break;
            case 'attached':
            case 'detached':
              t ??= this.track(actor);
              t.maxSentSeq = 0;
              t.probeSeq = 0;
              break;
          }
        }
        return;
      }
      case 'send': {
        const frames = effect.frames;
        this.framesSent.inc(frames.length);
        this.totals.frames += frames.length;
        let t: ActorTrack | undefined;
        for (let i = 0; i < frames.length; i++) {
          const seq = frameSeq(frames[i]!);
          if (seq === 0) continue;
          t ??= this.track(actor);
          if (seq <= t.maxSentSeq) {
            this.retransmissions.inc();
            this.totals.retransmissions++;
            // Karn: a resent push gives no round-trip sample.
            if (seq === t.probeSeq) t.probeSeq = 0;
          } else {
            t.maxSentSeq = seq;
            if (t.probeSeq === 0) {
              t.probeSeq = seq;
              t.probeAt = performance.now();
            }
          }
        }
        return;
      }
      case 'upstream': {
        this.totals.business++;
        const t = this.track(actor);
        t.started ??= new Map();
        t.started.set(effect.clientSeq, { at: performance.now(), service: effect.service });
        return;
      }
      case 'replies':
        for (const [, result] of effect.replies) {
          if (result.ok) continue;
          this.pushRefusals.inc({ reason: result.errorCode.toLowerCase() });
          if (result.errorCode === 'QUEUE_FULL') this.overloadRefusals.inc({ kind: 'session_queue' });
        }
        return;
      case 'close':
        this.linkCloses.inc({ code: CLOSE_CODE_NAMES[effect.code] ?? 'other' });
        return;
      case 'ended':
        return;
    }
  }

  private answered(t: ActorTrack, clientSeq: number): void {
    const started = t.started?.get(clientSeq);
    if (started === undefined) return;
    t.started!.delete(clientSeq);
    const now = performance.now();
    const ms = now - started.at;
    this.requestDuration.observe({ service: started.service }, ms / 1000);
    this.latency.add(now, ms);
  }

  private onLifecycle(event: SessionLifecycle): void {
    switch (event.type) {
      case 'created':
        this.sessionsCreated.inc();
        this.requestByType[RequestType.START]?.inc();
        this.totals.requests++;
        return;
      case 'resumed':
        this.requestByType[RequestType.START]?.inc();
        this.totals.requests++;
        if (event.takeover) this.takeovers.inc();
        else this.resumes.inc();
        return;
      case 'ended':
        this.sessionsEnded.inc({ reason: END_REASONS.has(event.reason) ? event.reason : 'other' });
        return;
    }
  }

  private onConnectionChange(active: number): void {
    if (active > this.lastConnections) this.connectionsTotal.inc(active - this.lastConnections);
    this.lastConnections = active;
  }

  private onRequest(type: number): void {
    this.totals.requests++;
    (this.requestByType[type] ?? this.requestByType[0])?.inc();
  }
}
