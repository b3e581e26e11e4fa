/**
 * The overload protector (seed 5.5, docs/protocol.md section 6): the `Admission` the
 * client listener asks before serving a connection or a BUSINESS request.
 *
 * - Connections: at most `max_connections` (the listener answers ERROR 429 and closes 0x03).
 * - Gateway QPS: admitted requests averaged over a sliding `qps_window_seconds`
 *   window stay at or below `max_qps` (ERROR 429).
 * - Fairness: each session also has a token bucket of `max_session_qps` a second
 *   (burst: one second's worth), checked first, so a noisy session is refused on
 *   its own and cannot use up the gateway-wide budget of the others.
 * - Warnings: crossing `connection_warning_threshold`, `qps_warning_threshold` or
 *   `upstream_warning_threshold` (in-flight upstream calls, via `trackUpstream`) logs
 *   one pino warn per crossing and bumps a counter; it re-arms once the value falls
 *   back below the threshold.
 *
 * `enabled: false` admits everything but still counts. The limiters are pure
 * (src/machines/rate-window.ts); this class only adds the clock and the log.
 */

import type { Admission } from '../actors/ports.js';
import type { OverloadProtectionConfig } from '../config/schema.js';
import { SlidingWindowCounter, TokenBucket } from '../machines/rate-window.js';
import type { Logger } from './ports.js';

export type OverloadWarningKind = 'connections' | 'qps' | 'upstream' | 'upstream_queue';

export interface OverloadStats {
  enabled: boolean;
  /** Connections admitted and not yet closed. */
  connections: number;
  /** Admitted requests per second over the sliding window. */
  qps: number;
  refusedConnections: number;
  /** Requests refused (gateway QPS and per-session together). */
  refusedRequests: number;
  /** Of refusedRequests, those refused by the per-session limit. */
  refusedBySession: number;
  admittedRequests: number;
  /** Warning crossings logged, all kinds. */
  warnings: number;
  warningsByKind: Record<OverloadWarningKind, number>;
  upstreamInflight: number;
  /** Sessions with a per-session bucket currently held. */
  trackedSessions: number;
}

export interface OverloadProtectorOptions {
  config: OverloadProtectionConfig;
  /** Milliseconds (default Date.now). */
  now?: () => number;
  logger?: Logger;
  /** Called on every warning crossing (metrics); must not throw. */
  onWarning?: (kind: OverloadWarningKind, value: number, threshold: number) => void;
  /** Buckets in the QPS window ring (default 20). */
  windowBuckets?: number;
}

/** Per-session buckets untouched this long (and so full again) are dropped at the next sweep. */
const SWEEP_EVERY_MS = 10_000;

export class OverloadProtector implements Admission {
  readonly enabled: boolean;
  private readonly cfg: OverloadProtectionConfig;
  private readonly now: () => number;
  private readonly window: SlidingWindowCounter;
  private readonly qpsLimit: number;
  private readonly sessions = new Map<string, TokenBucket>();
  private lastSweep: number;
  private connections = 0;
  private upstreamInflight = 0;
  private refusedConnections = 0;
  private refusedRequests = 0;
  private refusedBySession = 0;
  private admittedRequests = 0;
  private readonly above: Record<OverloadWarningKind, boolean> = {
    connections: false,
    qps: false,
    upstream: false,
    upstream_queue: false,
  };
  private readonly warned: Record<OverloadWarningKind, number> = {
    connections: 0,
    qps: 0,
    upstream: 0,
    upstream_queue: 0,
  };

  constructor(private readonly opts: OverloadProtectorOptions) {
    this.cfg = opts.config;
    this.enabled = opts.config.enabled;
    this.now = opts.now ?? Date.now;
    const windowMs = Math.max(1, this.cfg.qpsWindowSeconds) * 1000;
    this.window = new SlidingWindowCounter(windowMs, opts.windowBuckets ?? 20);
    this.qpsLimit = this.cfg.maxQps > 0 ? this.cfg.maxQps * Math.max(1, this.cfg.qpsWindowSeconds) : Infinity;
    this.lastSweep = this.now();
  }

  admitConnection(active: number): boolean {
    const max = this.cfg.maxConnections;
    if (this.enabled && max > 0 && active >= max) {
      this.refusedConnections++;
      return false;
    }
    this.connections++;
    this.check('connections', this.connections, this.cfg.connectionWarningThreshold);
    return true;
  }

  connectionClosed(): void {
    if (this.connections > 0) this.connections--;
    this.check('connections', this.connections, this.cfg.connectionWarningThreshold);
  }

  admitRequest(sessionId: string): boolean {
    const now = this.now();
    if (now - this.lastSweep >= SWEEP_EVERY_MS) this.sweep(now);
    if (!this.enabled) {
      this.window.add(now);
      this.admittedRequests++;
      this.check('qps', this.window.rate(now), this.cfg.qpsWarningThreshold);
      return true;
    }
    // Gateway-wide room first (without taking it), so that a refused request costs its session no token.
    if (this.window.count(now) + 1 > this.qpsLimit) {
      this.refusedRequests++;
      this.check('qps', this.window.rate(now), this.cfg.qpsWarningThreshold);
      return false;
    }
    if (this.cfg.maxSessionQps > 0) {
      let bucket = this.sessions.get(sessionId);
      if (bucket === undefined) {
        bucket = new TokenBucket(this.cfg.maxSessionQps, Math.max(1, this.cfg.maxSessionQps), now);
        this.sessions.set(sessionId, bucket);
      }
      if (!bucket.tryTake(now)) {
        this.refusedRequests++;
        this.refusedBySession++;
        return false;
      }
    }
    this.window.add(now);
    this.admittedRequests++;
    this.check('qps', this.window.rate(now), this.cfg.qpsWarningThreshold);
    return true;
  }

  /** A session ended: its bucket may go (optional; idle buckets are swept anyway). */
  sessionEnded(sessionId: string): void {
    this.sessions.delete(sessionId);
  }

  /** Counts an upstream call in flight until `p` settles (upstream_warning_threshold). */
  trackUpstream<T>(p: Promise<T>): Promise<T> {
    this.upstreamInflight++;
    this.check('upstream', this.upstreamInflight, this.cfg.upstreamWarningThreshold);
    const done = (): void => {
      this.upstreamInflight--;
      this.check('upstream', this.upstreamInflight, this.cfg.upstreamWarningThreshold);
    };
    p.then(done, done);
    return p;
  }

  /** A warning raised elsewhere (the upstream queue of the async processor). */
  noteWarning(kind: OverloadWarningKind, fields: object = {}): void {
    this.warned[kind]++;
    this.opts.logger?.warn({ kind, ...fields }, `overload warning: ${kind}`);
    this.notify(kind, 0, 0);
  }

  stats(): OverloadStats {
    const now = this.now();
    const warningsByKind = { ...this.warned };
    return {
      enabled: this.enabled,
      connections: this.connections,
      qps: this.window.rate(now),
      refusedConnections: this.refusedConnections,
      refusedRequests: this.refusedRequests,
      refusedBySession: this.refusedBySession,
      admittedRequests: this.admittedRequests,
      warnings: Object.values(warningsByKind).reduce((a, b) => a + b, 0),
      warningsByKind,
      upstreamInflight: this.upstreamInflight,
      trackedSessions: this.sessions.size,
    };
  }

  /** Logs once when `value` rises to `threshold`; re-arms when it falls below. 0 = no warning. */
  private check(kind: OverloadWarningKind, value: number, threshold: number): void {
    if (!(threshold > 0)) return;
    if (value >= threshold) {
      if (this.above[kind]) return;
      this.above[kind] = true;
      this.warned[kind]++;
      this.opts.logger?.warn(
        { kind, value, threshold },
        `overload warning: ${kind} at ${value} (threshold ${threshold})`,
      );
      this.notify(kind, value, threshold);
    } else {
      this.above[kind] = false;
    }
  }

  private notify(kind: OverloadWarningKind, value: number, threshold: number): void {
    try {
      this.opts.onWarning?.(kind, value, threshold);
    } catch {
      // a metrics hook never breaks admission
    }
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [id, bucket] of this.sessions) if (bucket.isFull(now)) this.sessions.delete(id);
  }
}
