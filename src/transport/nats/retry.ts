/**
 * Retry with exponential backoff until an attempt succeeds or the caller gives
 * up: the one loop behind promotion, follower (re)starts and consumer starts,
 * which must never give up on a transient NATS failure, nor go on once the
 * node has stood down or closed.
 */

export interface RetryOptions {
  /** Checked before every attempt and before every wait: true ends the loop (result false). */
  stopped: () => boolean;
  /** An attempt failed (`err` null when it returned false); the next comes after `delayMs`. */
  onRetry?: (err: unknown, delayMs: number) => void;
  minMs?: number;
  maxMs?: number;
}

/** Resolves true once `attempt` resolves true (a throw counts as a failure), false once stopped. */
export async function retryUntil(attempt: () => Promise<boolean>, opts: RetryOptions): Promise<boolean> {
  let delay = opts.minMs ?? 100;
  const max = opts.maxMs ?? 2_000;
  for (;;) {
    if (opts.stopped()) return false;
    let err: unknown = null;
    try {
      if (await attempt()) return true;
    } catch (e) {
      err = e;
    }
    if (opts.stopped()) return false;
    opts.onRetry?.(err, delay);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, max);
  }
}
