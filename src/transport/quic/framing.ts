/**
 * Stream framing of PROTOCOL.md section 1: a 4-byte big-endian length N, then N
 * bytes of protobuf, 1 <= N <= maxFrameBytes. Pure: no I/O.
 */

export type FrameErrorKind = 'zero_length' | 'too_large';

export class FrameError extends Error {
  constructor(
    readonly kind: FrameErrorKind,
    readonly length: number,
  ) {
    super(kind === 'zero_length' ? 'frame length 0' : `frame length ${length} above limit`);
    this.name = 'FrameError';
  }
}

/** Prefix one message with its length. */
export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
}

/** Prefix many messages into one buffer, for one stream write. */
export function encodeFrames(bodies: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const b of bodies) total += 4 + b.length;
  const out = Buffer.allocUnsafe(total);
  let off = 0;
  for (const b of bodies) {
    out.writeUInt32BE(b.length, off);
    out.set(b, off + 4);
    off += 4 + b.length;
  }
  return out;
}

/**
 * Reassembles frames from arbitrary stream chunks. Holds at most one partial
 * frame; a bad length is reported once and the decoder refuses further input,
 * since the byte stream can no longer be trusted.
 */
/** Shared empty remainder: most chunks end on a frame boundary, so no allocation per chunk. */
const NO_REMAINDER = Buffer.alloc(0);

export class FrameDecoder {
  private buf: Buffer = NO_REMAINDER;
  private failed: FrameError | null = null;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes held for an incomplete frame. */
  get pendingBytes(): number {
    return this.buf.length;
  }

  /**
   * Feed a chunk; returns the complete frame bodies it finished (views into an
   * internal buffer or the chunk: consume them before the next push). Throws
   * FrameError on a zero or over-limit length.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed;
    const data =
      this.buf.length > 0
        ? Buffer.concat([this.buf, chunk])
        : Buffer.isBuffer(chunk)
          ? chunk
          : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const frames: Uint8Array[] = [];
    let off = 0;
    while (data.length - off >= 4) {
      const len = data.readUInt32BE(off);
      if (len === 0 || len > this.maxFrameBytes) {
        this.failed = new FrameError(len === 0 ? 'zero_length' : 'too_large', len);
        this.buf = NO_REMAINDER;
        throw this.failed;
      }
      if (data.length - off - 4 < len) break;
      frames.push(data.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    // Copy the remainder so we never pin a large chunk for a few trailing bytes.
    this.buf = off === data.length ? NO_REMAINDER : Buffer.from(data.subarray(off));
    return frames;
  }
}
