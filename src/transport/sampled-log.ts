// Log lines an unauthenticated peer can trigger at will go through here: a LogSampler
// decides which are written, and a one-shot timer (only while something is held back)
// writes the "suppressed K similar lines" summaries when the window ends.

import type { Logger } from '../actors/ports.js';
import { LogSampler, type LogSamplerOptions } from '../config/log-sampler.js';

/** 10 lines per kind per 10 s: enough to diagnose a client, too few to flood the log. */
export const PRE_START_LOG_SAMPLING: LogSamplerOptions = { windowMs: 10_000, perKey: 10, maxKeys: 64 };

export class SampledLog {
  private readonly sampler: LogSampler;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Logger | undefined,
    opts: LogSamplerOptions = PRE_START_LOG_SAMPLING,
  ) {
    this.sampler = new LogSampler(opts);
  }

  /** Numbers in `key` are folded ("frame of 70000 bytes" and "... 80000 ..." are one kind). */
  info(key: string, obj: object, msg: string): void {
    if (!this.logger) return;
    const now = Date.now();
    if (this.sampler.admit(key.replace(/\d+/g, '#'), now)) {
      this.logger.info(obj, msg);
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => this.summarize(), Math.max(0, this.sampler.windowEnd - now) + 1);
    this.timer.unref();
  }

  /** Writes the summaries of ended windows; `all` ends the current one too (shutdown). */
  summarize(all = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const done = all ? this.sampler.takeAll() : this.sampler.takeSummaries(Date.now());
    for (const { key, suppressed } of done)
      this.logger?.info({ key, suppressed }, `suppressed ${suppressed} similar lines`);
  }
}
