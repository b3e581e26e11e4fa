// LogSampler: bounds how many lines one kind of event may write per time window, so
// a peer that can trigger a log line at will (protocol errors and failed STARTs before
// authentication) cannot flood the log. Per fixed window, the first `perKey` lines of a
// key pass; the rest are counted and reported as one summary per key when the window
// ends. Keys beyond `maxKeys` in a window share one overflow key, so varying the
// reason text neither escapes the limit nor grows memory. Pure: the caller passes the
// time and writes the lines.

export interface LogSamplerOptions {
  windowMs: number;
  /** Lines per key and window written as they come. */
  perKey: number;
  /** Distinct keys tracked per window; further keys count under OVERFLOW_KEY. */
  maxKeys: number;
}

export interface Suppressed {
  key: string;
  suppressed: number;
}

export const OVERFLOW_KEY = '(other keys)';

export class LogSampler {
  private windowStart = Number.NEGATIVE_INFINITY;
  private readonly counts = new Map<string, number>();
  private pending: Suppressed[] = [];

  constructor(readonly opts: LogSamplerOptions) {}

  /** True: write this line now. False: it is counted into the key's summary. */
  admit(key: string, now: number): boolean {
    this.roll(now);
    const k = this.counts.has(key) || this.counts.size < this.opts.maxKeys ? key : OVERFLOW_KEY;
    const n = (this.counts.get(k) ?? 0) + 1;
    this.counts.set(k, n);
    return n <= this.opts.perKey && k !== OVERFLOW_KEY;
  }

  /** When the current window ends (for a timer that collects its summaries). */
  get windowEnd(): number {
    return this.windowStart + this.opts.windowMs;
  }

  /** True while some line of the current window was held back. */
  get suppressing(): boolean {
    for (const [k, n] of this.counts) if (n > this.opts.perKey || k === OVERFLOW_KEY) return true;
    return false;
  }

  /** Summaries of windows that have ended by `now` (each returned once). */
  takeSummaries(now: number): Suppressed[] {
    this.roll(now);
    const out = this.pending;
    this.pending = [];
    return out;
  }

  /** Ends the current window now and returns every summary (shutdown). */
  takeAll(): Suppressed[] {
    this.roll(Number.NEGATIVE_INFINITY, true);
    const out = this.pending;
    this.pending = [];
    return out;
  }

  private roll(now: number, force = false): void {
    if (!force && now < this.windowStart + this.opts.windowMs) return;
    for (const [key, n] of this.counts) {
      const suppressed = key === OVERFLOW_KEY ? n : n - this.opts.perKey;
      if (suppressed > 0) this.pending.push({ key, suppressed });
    }
    this.counts.clear();
    this.windowStart = now;
  }
}
