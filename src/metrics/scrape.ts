/**
 * Scrape-time collectors: gauges read from the gateway's parts when Prometheus
 * scrapes, and counters that follow cumulative counters of other parts (async
 * processor, QUIC engine) by their increase since the last scrape.
 */
import type { SessionState } from '../machines/session-state.js';
import { LISTENER_REFUSALS } from '../transport/client-listener.js';
import type { AsyncProcessorStats } from '../transport/grpc/async-processor.js';
import type { EndpointHealth } from '../transport/grpc/upstream-pool.js';
import { EDGE_REFUSALS } from '../transport/quic/edge-guard.js';
import { type TransportCounters, zeroCounters } from '../transport/quic/types.js';
import type { Collectors, GatewayMetricSet } from './definitions.js';
import { type SessionScan, scanSessions } from './session-scan.js';

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
  /** Serving (lease held, or alone) rather than standing by. */
  serving?(): boolean;
  /** The event log can store now. */
  storeAvailable?(): boolean;
}

export const ZERO_QUIC: TransportCounters = Object.freeze(zeroCounters());
const ZERO_ASYNC: AsyncProcessorStats = { inflight: 0, queued: 0, rejected: 0, completed: 0, expired: 0 };

const inc = (cur: number, last: number) => Math.max(0, cur - last);

export class ScrapeCollectors {
  private sources: MetricsSources | null = null;
  private scanCache: SessionScan | null = null;
  private lastAsync = ZERO_ASYNC;
  private lastQuic = ZERO_QUIC;
  private lastQuicPackets = ZERO_QUIC;
  private lastEdge: Record<string, number> = {};
  private lastRetries = 0;
  /** Set once the metric set exists (its collectors refer to each other). */
  metrics: GatewayMetricSet | null = null;

  bind(sources: MetricsSources): void {
    this.sources = sources;
    this.lastQuic = { ...sources.quicCounters() };
    this.lastQuicPackets = this.lastQuic;
    this.lastAsync = { ...sources.asyncStats() };
  }

  get bound(): MetricsSources | null {
    return this.sources;
  }

  /**
   * One pass over every live session. `cached` reuses the scan made earlier in the
   * same synchronous run: prom-client calls every collect() of one scrape in one
   * loop, so several gauges share a pass; the cache is dropped at the next microtask.
   */
  scan(cached = false): SessionScan {
    if (cached && this.scanCache) return this.scanCache;
    const scan = scanSessions(this.sources ? this.sources.sessions() : []);
    if (cached) {
      this.scanCache = scan;
      queueMicrotask(() => {
        this.scanCache = null;
      });
    }
    return scan;
  }

  readonly collectors: Collectors = {
    activeConnections: (g) => this.with((src) => g.set(src.connections())),
    serving: (g) => this.with((src) => g.set(src.serving?.() === false ? 0 : 1)),
    eventLogAvailable: (g) => this.with((src) => g.set(src.storeAvailable?.() === false ? 0 : 1)),
    messageQueueSize: (g) => this.with(() => g.set(this.scan(true).pending)),
    sessionCount: (g) =>
      this.with(() => {
        const s = this.scan(true);
        g.set({ phase: 'inited' }, s.byPhase.inited);
        g.set({ phase: 'normal' }, s.byPhase.normal);
      }),
    detachedSessions: (g) => this.with(() => g.set(this.scan(true).detached)),
    heldNotifiesNow: (g) => this.with(() => g.set(this.scan(true).held)),
    inflightRequests: (g) => this.with(() => g.set(this.scan(true).inflight)),
    asyncQueueSize: (g) => this.with((src) => g.set(src.asyncStats().queued)),
    asyncInflight: (g) => this.with((src) => g.set(src.asyncStats().inflight)),
    asyncTasksTotal: (c) =>
      this.with((src) => {
        const cur = src.asyncStats();
        const last = this.lastAsync;
        c.inc({ status: 'completed' }, inc(cur.completed, last.completed));
        c.inc({ status: 'rejected' }, inc(cur.rejected, last.rejected));
        c.inc({ status: 'expired' }, inc(cur.expired, last.expired));
        this.metrics?.overloadRefusals.inc({ kind: 'upstream_queue' }, inc(cur.rejected, last.rejected));
        this.lastAsync = { ...cur };
      }),
    serviceDistribution: (g) =>
      this.with((src) => {
        for (const [service, eps] of Object.entries(src.upstreamHealth())) {
          let n = 0;
          for (const ep of eps) n += ep.inflight;
          g.set({ service }, n);
        }
      }),
    upstreamEndpointUp: (g) =>
      this.with((src) => {
        for (const [service, eps] of Object.entries(src.upstreamHealth())) {
          for (const ep of eps) g.set({ service, address: ep.address }, ep.healthy ? 1 : 0);
        }
      }),
    quicPackets: (c) =>
      this.with((src) => {
        const cur = src.quicCounters();
        const last = this.lastQuicPackets;
        c.inc({ direction: 'sent' }, inc(cur.packetsSent, last.packetsSent));
        c.inc({ direction: 'received' }, inc(cur.packetsReceived, last.packetsReceived));
        c.inc({ direction: 'lost' }, inc(cur.packetsLost, last.packetsLost));
        this.lastQuicPackets = { ...cur };
      }),
    quicBytes: (c) =>
      this.with((src) => {
        const cur = src.quicCounters();
        const last = this.lastQuic;
        c.inc({ direction: 'sent' }, inc(cur.bytesSent, last.bytesSent));
        c.inc({ direction: 'received' }, inc(cur.bytesReceived, last.bytesReceived));
        this.lastQuic = { ...cur };
      }),
    edgeRefusals: (c) => {
      // Every reason is exported from the first scrape, at 0, so dashboards see the series.
      for (const reason of [...EDGE_REFUSALS, ...LISTENER_REFUSALS]) c.inc({ reason }, 0);
      this.with((src) => {
        const cur = src.edgeRefusals?.();
        if (!cur) return;
        for (const [reason, n] of Object.entries(cur)) c.inc({ reason }, inc(n, this.lastEdge[reason] ?? 0));
        this.lastEdge = { ...cur };
      });
    },
    quicRetries: (c) =>
      this.with((src) => {
        const cur = src.retriesSent?.();
        if (cur === undefined) return;
        c.inc(inc(cur, this.lastRetries));
        this.lastRetries = cur;
      }),
  };

  /** Collectors do nothing until the gateway's parts are bound. */
  private with(fn: (sources: MetricsSources) => void): void {
    if (this.sources) fn(this.sources);
  }
}
