/**
 * The numbers behind GET /performance: rates and latency percentiles over a
 * rolling window (10 s by default), sampled once a second from cumulative totals.
 */
import { performance } from 'node:perf_hooks';
import type { TransportCounters } from '../transport/quic/types.js';
import type { DeliveryTotals } from './delivery.js';
import { type LatencySummary, type LatencyWindow, RateHistory } from './window.js';

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

export class PerformanceWindow {
  private readonly history: RateHistory<TotalKey>;
  private sampler: NodeJS.Timeout | null = null;

  constructor(
    private readonly windowMs: number,
    private readonly totals: DeliveryTotals,
    /** Request latencies (ms), stamped with performance.now(). */
    private readonly latency: LatencyWindow,
    private readonly quic: () => TransportCounters | undefined,
  ) {
    this.history = new RateHistory<TotalKey>(windowMs, { t: performance.now(), v: this.current() });
  }

  /** Start the 1 s sampler (unref'd: it never keeps the process alive). */
  start(): void {
    this.sampler ??= setInterval(() => this.history.record(performance.now(), this.current()), 1000);
    this.sampler.unref();
  }

  stop(): void {
    if (this.sampler) clearInterval(this.sampler);
    this.sampler = null;
  }

  report(): PerformanceReport {
    const now = performance.now();
    const cur = this.current();
    const { seconds, perSecond } = this.history.rates(now, cur);
    const q = this.quic();
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
        requests: cur.requests,
        business: cur.business,
        pushes: cur.pushes,
        framesSent: cur.frames,
        retransmissions: this.totals.retransmissions,
        bytesSent: cur.bytesSent,
        bytesReceived: cur.bytesReceived,
        packetsSent: q?.packetsSent ?? 0,
        packetsReceived: q?.packetsReceived ?? 0,
        packetsLost: q?.packetsLost ?? 0,
      },
      quicRttMs: q?.rttMs ?? 0,
    };
  }

  private current(): Record<TotalKey, number> {
    const q = this.quic();
    const t = this.totals;
    return {
      requests: t.requests,
      business: t.business,
      pushes: t.pushes,
      frames: t.frames,
      bytesSent: q?.bytesSent ?? 0,
      bytesReceived: q?.bytesReceived ?? 0,
    };
  }
}
