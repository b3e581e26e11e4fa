/**
 * Small sliding-window helpers for /performance: a ring of timed latency samples
 * (percentiles over the last N seconds) and a ring of cumulative-counter
 * snapshots (rates over the last N seconds). Fixed memory, no timers of their own.
 */

/** Timed samples in a fixed ring; percentiles over the samples newer than a cutoff. */
export class LatencyWindow {
  private readonly at: Float64Array;
  private readonly value: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(readonly capacity = 8192) {
    this.at = new Float64Array(capacity);
    this.value = new Float64Array(capacity);
  }

  add(now: number, value: number): void {
    this.at[this.next] = now;
    this.value[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
  }

  /**
   * p50/p90/p99/max/mean of the samples taken at or after `since` (nearest-rank).
   * Each rank is found by selection, not a sort: O(n) per call, and each later
   * rank searches only above the one before.
   */
  summary(since: number): LatencySummary {
    const picked = new Float64Array(this.filled);
    let n = 0;
    let sum = 0;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.filled; i++) {
      if (this.at[i]! < since) continue;
      const v = this.value[i]!;
      picked[n++] = v;
      sum += v;
      if (v > max) max = v;
    }
    if (n === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
    const rank = (p: number) => Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1));
    const k50 = rank(0.5);
    const k90 = rank(0.9);
    const k99 = rank(0.99);
    const p50 = select(picked, 0, n - 1, k50);
    const p90 = select(picked, k50, n - 1, k90);
    const p99 = select(picked, k90, n - 1, k99);
    return { count: n, p50, p90, p99, max, mean: sum / n };
  }
}

/**
 * The k-th smallest of a[lo..hi] (Hoare quickselect, median-of-three pivot);
 * reorders a[lo..hi] so that a[k] holds it, smaller values before, larger after.
 */
export function select(a: Float64Array, lo: number, hi: number, k: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // Median of three as pivot: sorted input (the usual case for latencies) stays linear.
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k]!;
  }
  return a[k]!;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Snapshots of cumulative counters, one per tick; rates between now and about `window` ago. */
export class RateHistory<K extends string> {
  private readonly ring: Array<{ t: number; v: Record<K, number> }> = [];

  constructor(
    private readonly windowMs: number,
    first: { t: number; v: Record<K, number> },
  ) {
    this.ring.push(first);
  }

  record(t: number, v: Record<K, number>): void {
    this.ring.push({ t, v });
    // Keep one snapshot at or beyond the window edge as the base of the rate.
    while (this.ring.length > 2 && t - this.ring[1]!.t >= this.windowMs) this.ring.shift();
  }

  /** Per-second rates of every key between the oldest snapshot within the window and `current`. */
  rates(t: number, current: Record<K, number>): { seconds: number; perSecond: Record<K, number> } {
    let base = this.ring[0]!;
    for (const s of this.ring) {
      if (t - s.t <= this.windowMs) {
        base = s;
        break;
      }
      base = s;
    }
    const seconds = Math.max(0, (t - base.t) / 1000);
    // Right after start the span is short: divide by at least one second, not by a sliver.
    const divisor = Math.max(1, seconds);
    const perSecond = {} as Record<K, number>;
    for (const k of Object.keys(current) as K[])
      perSecond[k] = Math.max(0, current[k] - (base.v[k] ?? 0)) / divisor;
    return { seconds, perSecond };
  }
}
