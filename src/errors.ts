/**
 * Coded errors shared across layers. Each carries a stable `code` (what callers
 * branch on) and, where it wraps something, the original `cause`; edges map
 * codes to their own vocabulary (gRPC status, HTTP status, close codes).
 */

/**
 * Why a session event store did not happen (or may not have happened):
 * - FENCED: the log refused the write because someone else wrote the session
 *   since (expected-last-sequence), or this node's serving lease may have lapsed.
 * - STORE_TIMEOUT: not confirmed within `nats.store_timeout`: whoever waits is
 *   answered now (UNAVAILABLE), while the store goes on (`later`).
 * - RECORD_TOO_LARGE: one event alone exceeds the log's message limit.
 * - LOG_CLOSED: the process is shutting down.
 */
export type StoreErrorCode = 'FENCED' | 'STORE_TIMEOUT' | 'RECORD_TOO_LARGE' | 'LOG_CLOSED';

export class StoreError extends Error {
  override name = 'StoreError';
  /**
   * STORE_TIMEOUT only: the store goes on being retried; this settles with its
   * final outcome (resolves once stored, rejects with the StoreError that ends it).
   */
  readonly later?: Promise<void>;
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown; later?: Promise<void> },
  ) {
    super(message, options);
    if (options?.later) {
      this.later = options.later;
      options.later.catch(() => {}); // observed by whoever waits on it; never an unhandled rejection
    }
  }
}

export function isStoreError(err: unknown, code?: StoreErrorCode): err is StoreError {
  return err instanceof StoreError && (code === undefined || err.code === code);
}

/** A JetStream API error as the server reported it (`err_code`, e.g. 10071 wrong last sequence). */
export class JetStreamApiError extends Error {
  override name = 'JetStreamApiError';
  constructor(
    message: string,
    readonly errCode: number,
    readonly status: number,
  ) {
    super(message);
  }
}

/** JetStream err_code of "wrong last sequence" (Nats-Expected-Last-Subject-Sequence mismatch). */
export const JS_WRONG_LAST_SEQUENCE = 10071;

/**
 * This gateway cannot accept right now (it does not hold the serving lease, or
 * its event log cannot store): nothing was accepted; retry later or elsewhere.
 * gRPC edge: UNAVAILABLE; push answers: errorCode UNAVAILABLE.
 */
export class UnavailableError extends Error {
  override name = 'UnavailableError';
  readonly code = 'UNAVAILABLE' as const;
}

/** A JetStream "no message found" answer (a subject with no stored message), as nats.js reports it. */
export function isNoMessageFound(err: unknown): boolean {
  return (err as { code?: string }).code === '404' || /no message found/i.test(String(err));
}
