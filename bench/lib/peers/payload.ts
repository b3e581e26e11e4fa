/**
 * The peers benchmark's message: 256 bytes stamped with a sequence number and
 * the send time, and the receiver's check that a stream of them arrived with
 * nothing lost, duplicated or reordered.
 */

export const PAYLOAD_BYTES = 256;

/**
 * ms on the system-wide monotonic clock (CLOCK_MONOTONIC via hrtime), so that
 * stamps compare between processes. `performance.timeOrigin + now()` does not:
 * two processes disagreed by ~24 ms (negative latencies).
 */
export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** seq (uint32 BE) at 0, send time (float64 BE, ms) at 4, filler after. */
export function stamp(seq: number): Buffer {
  const b = Buffer.alloc(PAYLOAD_BYTES, 0x61);
  b.writeUInt32BE(seq, 0);
  b.writeDoubleBE(nowMs(), 4);
  return b;
}

export function readStamp(b: Uint8Array): { seq: number; sentAt: number } {
  if (b.byteLength !== PAYLOAD_BYTES)
    throw new Error(`payload of ${b.byteLength} bytes, expected ${PAYLOAD_BYTES}`);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { seq: v.getUint32(0), sentAt: v.getFloat64(4) };
}

export interface StreamTally {
  /** Distinct seqs received. */
  received: number;
  duplicated: number;
  /** Arrivals with a seq below one already seen (a gap filled late). */
  reordered: number;
  /** Expected seqs never received (filled in by `lostOf`). */
  lost: number;
}

/** One receiver's view of the stream 1..expected. */
export class SeqCheck {
  private readonly seen = new Set<number>();
  private maxSeen = 0;
  duplicated = 0;
  reordered = 0;
  lastAt = 0;
  readonly latencies: number[] = [];

  constructor(
    readonly expected: number,
    private readonly keepLatency: boolean,
  ) {}

  /** Record one arrival; true once all `expected` distinct seqs are in. */
  add(payload: Uint8Array): boolean {
    const { seq, sentAt } = readStamp(payload);
    const at = nowMs();
    if (this.seen.has(seq)) this.duplicated++;
    else {
      if (seq < this.maxSeen) this.reordered++;
      this.seen.add(seq);
      this.maxSeen = Math.max(this.maxSeen, seq);
      this.lastAt = at;
      if (this.keepLatency) this.latencies.push(at - sentAt);
    }
    return this.complete;
  }

  get complete(): boolean {
    return this.seen.size >= this.expected;
  }

  tally(): StreamTally {
    let lost = 0;
    for (let s = 1; s <= this.expected; s++) if (!this.seen.has(s)) lost++;
    return { received: this.seen.size, duplicated: this.duplicated, reordered: this.reordered, lost };
  }
}

export function addTally(a: StreamTally, b: StreamTally): StreamTally {
  return {
    received: a.received + b.received,
    duplicated: a.duplicated + b.duplicated,
    reordered: a.reordered + b.reordered,
    lost: a.lost + b.lost,
  };
}

export const EMPTY_TALLY: StreamTally = { received: 0, duplicated: 0, reordered: 0, lost: 0 };

/**
 * Send seqs 1..n in order with at most `window` unconfirmed: `send(seq)` starts
 * one send synchronously and resolves on its confirmation. Resolves with when
 * the first send started (wall ms) and the seconds to the last confirmation.
 */
export interface Sent {
  startAt: number;
  seconds: number;
}

export async function sendWindowed(
  n: number,
  window: number,
  send: (seq: number) => Promise<void>,
): Promise<Sent> {
  const startAt = nowMs();
  const t0 = performance.now();
  let next = 1;
  const lane = async () => {
    while (next <= n) await send(next++);
  };
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
  return { startAt, seconds: (performance.now() - t0) / 1000 };
}
