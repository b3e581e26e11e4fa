/** Waiting helpers for the QUIC engine tests: they guard failures, never assert timing. */

/** `p`, or a rejection naming `what` after `ms`. */
export function guard<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]);
}

/** Polls `cond` every `everyMs` until it holds, or rejects naming `what` after `ms`. */
export function until(cond: () => boolean, ms: number, what: string, everyMs = 10): Promise<void> {
  return guard(
    (async () => {
      while (!cond()) await new Promise((r) => setTimeout(r, everyMs));
    })(),
    ms,
    what,
  );
}
