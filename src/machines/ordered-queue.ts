/**
 * The per-session ordered queue of reliable pushes (docs/protocol.md section 3).
 * Pure: no timers, no I/O; time comes in as arguments.
 *
 * Entries are always the contiguous seqs lastAcked+1 .. nextSeq-1, so the queue
 * is an array in seq order and a cumulative ACK drops a prefix.
 *
 * `highestSent` is the highest seq ever written to a link of the session (it
 * survives `resetForNewLink`): a client ACK (or a resuming START's
 * last_acked_seq_id) is clamped to it with `clampAck` before it is recorded, so
 * pushes queued but never sent are never dropped by an ACK. It is live-only: a
 * queue rebuilt from stored events starts with nothing sent (lastAcked), and
 * `ack` itself clamps only to the highest seq queued, so replaying a recorded
 * (already clamped) ACK gives the same result.
 */

export interface QueueEntry {
  readonly seq: number;
  /** The length-prefixed ServerPush frame, encoded once. */
  readonly frame: Uint8Array;
  /** Client seq this push answers (0 for notifies). */
  readonly answers: number;
  /** When it was last written to a link; -1 while never sent on the current link. */
  sentAt: number;
  /** Sends after the first one. */
  retries: number;
}

export interface RetransmitPlan {
  /** Entries to write again, in seq order. */
  resend: QueueEntry[];
  /** True when some entry already used every retry: the link is dead. */
  exhausted: boolean;
}

export class OrderedQueue {
  private entries: QueueEntry[] = [];
  /** Index of the first entry of `entries` still pending (avoids shifting). */
  private head = 0;
  private _nextSeq: number;
  private _lastAcked: number;
  private _bytes = 0;
  private _highestSent: number;

  constructor(
    readonly maxQueue: number,
    nextSeq = 1,
    lastAcked = 0,
  ) {
    this._nextSeq = nextSeq;
    this._lastAcked = lastAcked;
    this._highestSent = lastAcked;
  }

  get nextSeq(): number {
    return this._nextSeq;
  }
  get lastAcked(): number {
    return this._lastAcked;
  }
  /** Highest seq written to a link so far (at least lastAcked). */
  get highestSent(): number {
    return this._highestSent;
  }
  /**
   * What a client's cumulative ACK of `seq` may acknowledge: at most the
   * highest seq sent. Record this value, not the client's.
   */
  clampAck(seq: number): number {
    return Math.min(seq, this._highestSent);
  }
  /** Highest seq handed out so far. */
  get lastSeq(): number {
    return this._nextSeq - 1;
  }
  /** Reliable pushes queued or unacknowledged. */
  get size(): number {
    return this.entries.length - this.head;
  }

  /** Bytes of the pending frames (length prefixes included): the max_queue_bytes budget. */
  get bytes(): number {
    return this._bytes;
  }

  hasRoom(extra = 1): boolean {
    return this.size + extra <= this.maxQueue;
  }

  /**
   * Give the next seq to a frame built for it. The caller checks hasRoom first
   * (room also depends on notifies held outside the queue).
   */
  append(build: (seq: number) => Uint8Array, answers = 0): QueueEntry {
    const seq = this._nextSeq++;
    const entry: QueueEntry = { seq, frame: build(seq), answers, sentAt: -1, retries: 0 };
    this.entries.push(entry);
    this._bytes += entry.frame.length;
    return entry;
  }

  /** Re-insert an entry with a known seq (replay of stored events). */
  restore(seq: number, frame: Uint8Array, answers = 0): void {
    if (seq !== this._nextSeq) throw new Error(`restore out of order: ${seq} != ${this._nextSeq}`);
    this._nextSeq++;
    this.entries.push({ seq, frame, answers, sentAt: -1, retries: 0 });
    this._bytes += frame.length;
  }

  /**
   * Cumulative ACK. Clamped above to the highest seq handed out, ignored at or
   * below an earlier ACK. Returns the entries it released (for answer bookkeeping).
   * A client's ACK goes through `clampAck` first (highest seq sent).
   */
  ack(seq: number): QueueEntry[] {
    const upTo = Math.min(seq, this.lastSeq);
    if (upTo <= this._lastAcked) return [];
    const count = upTo - this._lastAcked;
    const released = this.entries.slice(this.head, this.head + count);
    this.head += count;
    this._lastAcked = upTo;
    for (const e of released) this._bytes -= e.frame.length;
    if (upTo > this._highestSent) this._highestSent = upTo;
    if (this.head > 64 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    return released;
  }

  /**
   * When the newest entry an ACK of `seq` would release left, if it left once
   * (Karn: a resent entry gives no round-trip sample); null otherwise.
   */
  sentOnceAt(seq: number): number | null {
    const upTo = Math.min(seq, this.lastSeq);
    for (let i = this.head + (upTo - this._lastAcked) - 1; i >= this.head; i--) {
      const e = this.entries[i]!;
      if (e.sentAt >= 0 && e.retries === 0) return e.sentAt;
    }
    return null;
  }

  /** Pending entries in seq order (do not mutate the array). */
  pending(): readonly QueueEntry[] {
    return this.head === 0 ? this.entries : this.entries.slice(this.head);
  }

  /** Entries not yet written to the current link, marking them sent at `now`. */
  takeUnsent(now: number): QueueEntry[] {
    const out: QueueEntry[] = [];
    for (let i = this.entries.length - 1; i >= this.head; i--) {
      const e = this.entries[i]!;
      if (e.sentAt >= 0) break;
      out.push(e);
    }
    out.reverse();
    for (const e of out) e.sentAt = now;
    if (out.length > 0) this._highestSent = Math.max(this._highestSent, out[out.length - 1]!.seq);
    return out;
  }

  /**
   * A new link: every pending entry goes out again from the start, retries
   * reset. `highestSent` stays: the client may hold what the old link delivered.
   */
  resetForNewLink(): void {
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      e.sentAt = -1;
      e.retries = 0;
    }
  }

  /**
   * Entries sent at least `ackTimeout` ago are due again. An entry that already
   * used `maxRetries` makes the plan `exhausted` (nothing is resent then).
   */
  retransmit(now: number, ackTimeout: number, maxRetries: number): RetransmitPlan {
    const resend: QueueEntry[] = [];
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.sentAt < 0 || now - e.sentAt < ackTimeout) continue;
      if (e.retries >= maxRetries) return { resend: [], exhausted: true };
      resend.push(e);
    }
    for (const e of resend) {
      e.retries++;
      e.sentAt = now;
    }
    return { resend, exhausted: false };
  }

  /** Some entry is due again after using every retry: the link is dead. Pure check. */
  exhausted(now: number, ackTimeout: number, maxRetries: number): boolean {
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.sentAt >= 0 && e.retries >= maxRetries && now - e.sentAt >= ackTimeout) return true;
    }
    return false;
  }

  /** When the oldest sent entry becomes due, or null when nothing waits for an ACK. */
  nextDeadline(ackTimeout: number): number | null {
    let min = Number.POSITIVE_INFINITY;
    for (let i = this.head; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      // Sent entries are sent in order, so the first sent one is the oldest... unless
      // a retransmit refreshed it; scan stops early once unsent entries start.
      if (e.sentAt < 0) break;
      if (e.sentAt < min) min = e.sentAt;
    }
    return min === Number.POSITIVE_INFINITY ? null : min + ackTimeout;
  }
}
