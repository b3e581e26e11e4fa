import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame, encodeFrames, FrameDecoder, FrameError } from '../../src/transport/quic/framing.js';

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
});
