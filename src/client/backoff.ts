/**
 * Full-jitter exponential backoff (the AWS architecture blog's "full jitter"):
 * attempt k waits a uniformly random delay in [0, min(maxMs, minMs * 2^k)).
 * Every delay is random, the first one included, so clients dropped by the
 * same failure do not come back in lockstep. Pure: the random source is
 * injectable, nothing here reads a clock or sets a timer.
 */

export interface BackoffOptions {
  /** Upper bound of the first delay, ms (> 0). */
  minMs: number;
  /** Cap of the upper bound, ms (>= minMs). */
  maxMs: number;
  /** Uniform in [0, 1); Math.random by default. */
  random?: () => number;
}

export class Backoff {
  private attempt = 0;
  readonly minMs: number;
  readonly maxMs: number;
  private readonly random: () => number;

  constructor(opts: BackoffOptions) {
    if (!(opts.minMs > 0) || !Number.isFinite(opts.minMs)) throw new RangeError('backoff: minMs must be > 0');
    if (!(opts.maxMs >= opts.minMs) || !Number.isFinite(opts.maxMs))
      throw new RangeError('backoff: maxMs must be >= minMs');
    this.minMs = opts.minMs;
    this.maxMs = opts.maxMs;
    this.random = opts.random ?? Math.random;
  }

  /** Delays handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The upper bound of the next delay: min(maxMs, minMs * 2^attempts). */
  ceiling(): number {
    // 2^k overflows nothing before the cap for any sane min; clamp the exponent anyway.
    return Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 52));
  }

  /** The next delay in ms (an integer in [0, ceiling)), and one more attempt counted. */
  next(): number {
    const cap = this.ceiling();
    this.attempt++;
    const r = this.random();
    const u = r >= 0 && r < 1 ? r : 0;
    return Math.floor(u * cap);
  }

  /** Back to the first delay (after a successful resume). */
  reset(): void {
    this.attempt = 0;
  }
}
