import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame, encodeFrames, FrameDecoder, FrameError } from '../../src/protocol/framing.js';

const body = (n: number, fill = n) => new Uint8Array(n).fill(fill & 0xff);
const text = (frames: Uint8Array[]) => frames.map((f) => f.length);

describe('framing codec', () => {
  it('prefixes a 4-byte big-endian length', () => {
    assert.deepEqual([...encodeFrame(Uint8Array.of(9, 8, 7))], [0, 0, 0, 3, 9, 8, 7]);
    assert.deepEqual([...encodeFrame(body(258)).subarray(0, 4)], [0, 0, 1, 2]);
  });

  it('decodes frames split at every byte boundary', () => {
    const wire = encodeFrames([body(5), body(1), body(300)]);
    for (let cut = 1; cut < wire.length; cut++) {
      const d = new FrameDecoder(1024);
      const out = [
        ...d.push(wire.subarray(0, cut)).map((f) => Uint8Array.from(f)),
        ...d.push(wire.subarray(cut)),
      ];
      assert.deepEqual(text(out), [5, 1, 300], `cut at ${cut}`);
      assert.equal(d.pendingBytes, 0);
    }
  });

  it('decodes one byte at a time and many frames coalesced in one read', () => {
    const frames = Array.from({ length: 50 }, (_, i) => body(i + 1));
    const wire = encodeFrames(frames);
    const d = new FrameDecoder(1024);
    const one: number[] = [];
    for (const b of wire) for (const f of d.push(Uint8Array.of(b))) one.push(f.length);
    assert.deepEqual(
      one,
      frames.map((f) => f.length),
    );
    const all = new FrameDecoder(1024).push(wire);
    assert.deepEqual(
      text(all),
      frames.map((f) => f.length),
    );
    assert.deepEqual([...all[49]!], [...frames[49]!]);
  });

  it('accepts exactly max_frame_bytes and refuses zero or more', () => {
    assert.equal(new FrameDecoder(16).push(encodeFrame(body(16)))[0]!.length, 16);
    assert.throws(
      () => new FrameDecoder(16).push(encodeFrame(body(17))),
      (e: FrameError) => e instanceof FrameError && e.kind === 'too_large' && e.length === 17,
    );
    assert.throws(
      () => new FrameDecoder(16).push(Uint8Array.of(0, 0, 0, 0)),
      (e: FrameError) => e.kind === 'zero_length',
    );
  });

  it('refuses an oversize length as soon as the header arrives, before the body', () => {
    const d = new FrameDecoder(1024);
    assert.throws(() => d.push(Uint8Array.of(0x7f, 0xff, 0xff, 0xff)), FrameError);
    assert.equal(d.pendingBytes, 0);
    // The stream can no longer be trusted: later input keeps failing.
    assert.throws(() => d.push(encodeFrame(body(3))), FrameError);
  });

  it('keeps only the partial frame between reads', () => {
    const d = new FrameDecoder(1 << 20);
    const wire = encodeFrames([body(10), body(100_000)]);
    const got = d.push(wire.subarray(0, 20));
    assert.equal(got.length, 1);
    assert.equal(d.pendingBytes, 6);
  });

  it('is linear: a 1 MiB frame trickled in 400-byte chunks copies at most 2 bytes per byte received', () => {
    const big = new Uint8Array(1 << 20);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const wire = encodeFrames([body(3), big, body(5)]);
    const d = new FrameDecoder(1 << 20);
    const got: Uint8Array[] = [];
    let maxPending = 0;
    for (let off = 0; off < wire.length; off += 400) {
      for (const f of d.push(wire.subarray(off, off + 400))) got.push(Uint8Array.from(f));
      maxPending = Math.max(maxPending, d.pendingBytes);
    }
    assert.deepEqual(text(got), [3, 1 << 20, 5]);
    assert.ok(Buffer.from(got[1]!).equals(Buffer.from(big)));
    assert.ok(maxPending <= (1 << 20) + 4);
    const perByte = d.bytesCopied / wire.length;
    assert.ok(
      perByte <= 2,
      `${d.bytesCopied} bytes copied for ${wire.length} received (${perByte.toFixed(3)})`,
    );
    assert.equal(d.pendingBytes, 0);
  });

  it('frames that fit in a chunk are not copied at all', () => {
    const d = new FrameDecoder(1024);
    const wire = encodeFrames(Array.from({ length: 100 }, (_, i) => body(i + 1)));
    assert.equal(d.push(wire).length, 100);
    assert.equal(d.bytesCopied, 0);
  });

  it("does not keep views of the caller's chunks: a reused chunk buffer still decodes", () => {
    const frames = [body(700, 1), body(5, 2), body(1500, 3)];
    const wire = encodeFrames(frames);
    const scratch = Buffer.alloc(97);
    const d = new FrameDecoder(4096);
    const got: Uint8Array[] = [];
    for (let off = 0; off < wire.length; off += scratch.length) {
      const n = Math.min(scratch.length, wire.length - off);
      wire.subarray(off, off + n).forEach((b, i) => {
        scratch[i] = b;
      });
      for (const f of d.push(scratch.subarray(0, n))) got.push(Uint8Array.from(f));
      scratch.fill(0xee);
    }
    assert.deepEqual(
      got.map((f) => [...f]),
      frames.map((f) => [...f]),
    );
  });

  it('refuses an over-limit length split across chunks as soon as its 4 bytes are in', () => {
    const d = new FrameDecoder(16 * 1024);
    assert.deepEqual(
      d.push(encodeFrames([body(2)])).map((f) => [...f]),
      [[2, 2]],
    );
    assert.deepEqual(d.push(Uint8Array.of(0, 0x10)), []);
    assert.equal(d.pendingBytes, 2);
    assert.throws(
      () => d.push(Uint8Array.of(0, 1, 9, 9, 9)),
      (e: FrameError) => e.kind === 'too_large' && e.length === 0x100001,
    );
    assert.equal(d.pendingBytes, 0);
  });

  it('a raised limit applies to the next length prefix read', () => {
    const d = new FrameDecoder(16);
    assert.equal(d.maxFrameBytes, 16);
    assert.equal(d.push(encodeFrame(body(16)))[0]!.length, 16);
    d.setMaxFrameBytes(1024);
    assert.equal(d.push(encodeFrame(body(1024)))[0]!.length, 1024);
    assert.throws(() => d.push(encodeFrame(body(1025))), FrameError);
  });

  it('matches a reference decoder on random frames and random splits', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      const frames = Array.from({ length: 1 + rnd(8) }, (_, i) => body(1 + rnd(3000), i + round));
      const wire = encodeFrames(frames);
      const d = new FrameDecoder(4096);
      const got: number[][] = [];
      for (let off = 0; off < wire.length; ) {
        const n = 1 + rnd(rnd(2) === 0 ? 8 : 2000);
        for (const f of d.push(wire.subarray(off, off + n))) got.push([...f]);
        off += n;
      }
      assert.deepEqual(
        got,
        frames.map((f) => [...f]),
        `round ${round}`,
      );
      assert.ok(d.bytesCopied <= 2 * wire.length);
      assert.equal(d.pendingBytes, 0);
    }
  });
});
