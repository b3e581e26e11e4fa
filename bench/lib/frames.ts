/** Bench framing: 4-byte big-endian length + payload. Payload byte 0 tells the server what to do. */

export const KIND_ECHO = 0x45; // 'E'
export const KIND_PUSH = 0x50; // 'P': uint32 total bytes, uint32 frame size follow

export function echoFrame(size: number): Buffer {
  const b = Buffer.alloc(4 + size, 0x61);
  b.writeUInt32BE(size, 0);
  b[4] = KIND_ECHO;
  return b;
}

export function pushRequest(totalBytes: number, frameSize: number): Buffer {
  const b = Buffer.alloc(4 + 9);
  b.writeUInt32BE(9, 0);
  b[4] = KIND_PUSH;
  b.writeUInt32BE(totalBytes, 5);
  b.writeUInt32BE(frameSize, 9);
  return b;
}

/** Splits a byte stream into whole frames (header included). */
export class Splitter {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (frame: Buffer) => void) {}

  push(chunk: Uint8Array): void {
    let b =
      this.buf.length === 0
        ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
        : Buffer.concat([this.buf, chunk]);
    let off = 0;
    while (b.length - off >= 4) {
      const n = b.readUInt32BE(off);
      if (b.length - off < 4 + n) break;
      this.onFrame(b.subarray(off, off + 4 + n));
      off += 4 + n;
    }
    b = b.subarray(off);
    this.buf = b.length > 0 ? Buffer.from(b) : Buffer.alloc(0);
  }
}
