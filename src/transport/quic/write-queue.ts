/**
 * Per-connection outgoing byte queue: one contiguous, growable buffer, so that
 * everything written in a turn is offered to the stream in one call. Starts
 * empty and shrinks back when drained, so idle connections hold no buffer. Pure.
 */

const MIN_CAPACITY = 256;
/** Drained buffers larger than this are released rather than kept. */
const KEEP_CAPACITY = 16 * 1024;
const EMPTY = Buffer.alloc(0);

export class WriteQueue {
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;

  /** Bytes queued. */
  get length(): number {
    return this.end - this.start;
  }

  /** Allocated bytes (for tests and memory accounting). */
  get capacity(): number {
    return this.buf.length;
  }

  /** Copy `data` to the end of the queue. */
  push(data: Uint8Array): void {
    const n = data.byteLength;
    if (n === 0) return;
    if (this.end + n > this.buf.length) this.makeRoom(n);
    this.buf.set(data, this.end);
    this.end += n;
  }

  /** All queued bytes as one view (valid until the next push/consume). */
  peek(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  /** Drop `n` bytes from the front. */
  consume(n: number): void {
    this.start += Math.min(n, this.length);
    if (this.start === this.end) {
      this.start = 0;
      this.end = 0;
      if (this.buf.length > KEEP_CAPACITY) this.buf = EMPTY;
    }
  }

  clear(): void {
    this.start = 0;
    this.end = 0;
    this.buf = EMPTY;
  }

  private makeRoom(n: number): void {
    const len = this.length;
    const need = len + n;
    if (need <= this.buf.length >> 1) {
      // Plenty of space once the live bytes move to the front.
      this.buf.copy(this.buf, 0, this.start, this.end);
    } else {
      let cap = Math.max(MIN_CAPACITY, this.buf.length);
      while (cap < need) cap *= 2;
      const next = Buffer.allocUnsafe(cap);
      this.buf.copy(next, 0, this.start, this.end);
      this.buf = next;
    }
    this.start = 0;
    this.end = len;
  }
}
