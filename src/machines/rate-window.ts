/**
 * Pure rate limiters for the overload protector (seed 5.5). No timers, no I/O:
 * time is passed in (ms on any monotonic-enough clock).
 *
 * - `SlidingWindowCounter`: events in the last `windowMs`, kept in a ring of
 *   buckets (O(1) amortised per event; a long gap clears the ring at once).
 *   The count is exact to one bucket's width.
 * - `TokenBucket`: `ratePerSec` tokens a second, at most `burst` held.
 */

export class SlidingWindowCounter {
  private readonly counts: Float64Array;
  private readonly bucketMs: number;
  /** Index (absolute, floor(now / bucketMs)) of the newest bucket. */
  private head = Number.NEGATIVE_INFINITY;
  private sum = 0;

  constructor(
    readonly windowMs: number,
    readonly buckets = 20,
  ) {
    if (!(windowMs > 0)) throw new RangeError('windowMs must be > 0');
    if (!(Number.isInteger(buckets) && buckets >= 1)) throw new RangeError('buckets must be an integer >= 1');
    this.counts = new Float64Array(buckets);
    this.bucketMs = windowMs / buckets;
  }

  /** Events in the window ending at `now`. */
  count(now: number): number {
    this.advance(now);
    return this.sum;
  }

  /** Events per second averaged over the window. */
  rate(now: number): number {
    return this.count(now) / (this.windowMs / 1000);
  }

  /** Record `n` events at `now`. */
  add(now: number, n = 1): void {
    this.advance(now);
    this.counts[this.slot(this.head)]! += n;
    this.sum += n;
  }

  /** Record one event if the window holds fewer than `limit`; false otherwise (nothing recorded). */
  tryAdd(now: number, limit: number): boolean {
    this.advance(now);
    if (this.sum + 1 > limit) return false;
    this.counts[this.slot(this.head)]! += 1;
    this.sum += 1;
    return true;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.head = Number.NEGATIVE_INFINITY;
  }

  private slot(index: number): number {
    const n = this.buckets;
    return ((index % n) + n) % n;
  }

  /** Moves the head to now's bucket, zeroing the buckets that left the window. */
  private advance(now: number): void {
    const index = Math.floor(now / this.bucketMs);
    if (index <= this.head) return; // same bucket, or the clock went back: keep counting in the head
    const steps = index - this.head;
    if (steps >= this.buckets) {
      this.counts.fill(0);
      this.sum = 0;
    } else {
      for (let i = 1; i <= steps; i++) {
        const s = this.slot(this.head + i);
        this.sum -= this.counts[s]!;
        this.counts[s] = 0;
      }
      if (this.sum < 1e-9) this.sum = 0;
    }
    this.head = index;
  }
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSec: number,
    readonly burst: number,
    now: number,
  ) {
    if (!(ratePerSec > 0)) throw new RangeError('ratePerSec must be > 0');
    if (!(burst >= 1)) throw new RangeError('burst must be >= 1');
    this.tokens = burst;
    this.last = now;
  }

  /** Takes `n` tokens (default one) if there are that many; otherwise takes none. */
  tryTake(now: number, n = 1): boolean {
    this.refill(now);
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Tokens available at `now`. */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** True when the bucket would be full at `now` (it can be dropped: a new one is the same). */
  isFull(now: number): boolean {
    return this.available(now) >= this.burst;
  }

  private refill(now: number): void {
    if (now <= this.last) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSec);
    this.last = now;
  }
}
