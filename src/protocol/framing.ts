/**
 * Stream framing of docs/protocol.md section 1: a 4-byte big-endian length N, then N
 * bytes of protobuf, 1 <= N <= maxFrameBytes. Pure: no I/O.
 */

import { CodedError } from '../errors.js';

export type FrameErrorKind = 'zero_length' | 'too_large';

/** A peer broke the framing: the connection closes with PROTOCOL_ERROR. */
export class FrameError extends CodedError<'PROTOCOL_ERROR'> {
  constructor(
    readonly kind: FrameErrorKind,
    readonly length: number,
  ) {
    super('PROTOCOL_ERROR', kind === 'zero_length' ? 'frame length 0' : `frame length ${length} above limit`);
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
 *
 * Linear in the bytes received: the pieces of a partial frame are kept as a
 * list (each copied once out of its chunk, so a caller may reuse its chunk
 * buffers) and joined once, when the frame completes. A frame trickled in
 * small pieces thus costs at most 2 bytes copied per byte received
 * (`bytesCopied`), never a re-copy of the whole partial frame per chunk. A
 * length above the limit fails as soon as its 4-byte prefix is in, before any
 * of its body is held.
 */
export class FrameDecoder {
  private limit: number;
  private failed: FrameError | null = null;
  /** Length prefix of the frame being assembled (bytes filled so far in `headerFill`). */
  private readonly header = Buffer.alloc(4);
  private headerFill = 0;
  /** Body length of the frame being assembled, once its prefix is complete; -1 before. */
  private need = -1;
  /** Copies of the body pieces received so far for that frame, in order. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private copied = 0;

  constructor(maxFrameBytes: number) {
    this.limit = maxFrameBytes;
  }

  /** Largest frame body accepted (checked when a length prefix is read). */
  get maxFrameBytes(): number {
    return this.limit;
  }

  /**
   * Change the limit for length prefixes read from now on (the gateway raises
   * its pre-START bound once START_RESP is sent). A partial frame whose
   * prefix was already accepted is not checked again.
   */
  setMaxFrameBytes(n: number): void {
    this.limit = n;
  }

  /** Bytes held for an incomplete frame (its length prefix included). */
  get pendingBytes(): number {
    return this.headerFill + this.partsBytes;
  }

  /** Bytes copied so far (partial frames only; complete frames in a chunk are views, not copies). */
  get bytesCopied(): number {
    return this.copied;
  }

  /**
   * Feed a chunk; returns the complete frame bodies it finished (views into the
   * chunk or a buffer of their own: consume them before the next push). Throws
   * FrameError on a zero or over-limit length.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed;
    const data = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const end = data.length;
    const frames: Uint8Array[] = [];
    let off = 0;
    if (this.headerFill > 0) {
      // Finish the partial frame first.
      if (this.need < 0) {
        const take = Math.min(4 - this.headerFill, end);
        data.copy(this.header, this.headerFill, 0, take);
        this.headerFill += take;
        this.copied += take;
        off = take;
        if (this.headerFill < 4) return frames;
        this.need = this.checkLength(this.header.readUInt32BE(0));
      }
      const missing = this.need - this.partsBytes;
      const take = Math.min(missing, end - off);
      if (take < missing) {
        if (take > 0) this.keep(data, off, end);
        return frames;
      }
      frames.push(this.complete(data, off, off + take));
      off += take;
    }
    while (end - off >= 4) {
      const len = this.checkLength(data.readUInt32BE(off));
      if (end - off - 4 < len) break;
      frames.push(data.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    if (off < end) {
      // The start of a partial frame: its prefix (whole or not), then any body bytes.
      const h = Math.min(4, end - off);
      data.copy(this.header, 0, off, off + h);
      this.headerFill = h;
      this.copied += h;
      if (h === 4) {
        this.need = this.header.readUInt32BE(0); // checked by the loop above
        if (end - off > 4) this.keep(data, off + 4, end);
      }
    }
    return frames;
  }

  /** Copy a piece of the current frame's body out of the chunk. */
  private keep(data: Buffer, from: number, to: number): void {
    this.parts.push(Buffer.from(data.subarray(from, to)));
    this.partsBytes += to - from;
    this.copied += to - from;
  }

  /** The current frame's body: its kept pieces then data[from, to), joined once. */
  private complete(data: Buffer, from: number, to: number): Uint8Array {
    let body: Uint8Array;
    if (this.parts.length === 0) {
      body = data.subarray(from, to);
    } else {
      const out = Buffer.allocUnsafe(this.need);
      let at = 0;
      for (const p of this.parts) {
        p.copy(out, at);
        at += p.length;
      }
      data.copy(out, at, from, to);
      this.copied += this.need;
      body = out;
    }
    this.reset();
    return body;
  }

  private checkLength(len: number): number {
    if (len === 0 || len > this.limit) {
      this.failed = new FrameError(len === 0 ? 'zero_length' : 'too_large', len);
      this.reset();
      throw this.failed;
    }
    return len;
  }

  private reset(): void {
    this.headerFill = 0;
    this.need = -1;
    this.parts = [];
    this.partsBytes = 0;
  }
}
