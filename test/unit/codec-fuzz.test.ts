/**
 * Fuzz of the client-facing codec: the FrameDecoder and every ClientRequest payload
 * decoder, with seeded random and mutated input (bounded budget, reproducible).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeFrame, FrameDecoder, FrameError } from '../../src/protocol/framing.js';
import {
  BusinessRequest,
  ClientAck,
  ClientRequest,
  HeartbeatRequest,
  StartRequest,
  StopRequest,
} from '../../src/protocol/messages.js';
import { Gen, prng } from '../helpers/fuzz.js';

const CASES = 2000;
const MAX_FRAME = 4096;
const decoders = [ClientRequest, StartRequest, StopRequest, HeartbeatRequest, BusinessRequest, ClientAck];

/** Splits bytes at random points. */
function chunks(g: Gen, b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < b.length) {
    const n = 1 + g.int(Math.min(64, b.length - off));
    out.push(b.subarray(off, off + n));
    off += n;
  }
  return out;
}

describe('codec fuzz', () => {
  it(`reassembles ${CASES} random valid frame streams split at random points`, () => {
    const g = new Gen(prng(0xc0dec));
    for (let c = 0; c < CASES; c++) {
      const bodies = Array.from({ length: 1 + g.int(5) }, () => g.validBody());
      const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
      const dec = new FrameDecoder(MAX_FRAME);
      const got: Buffer[] = [];
      for (const ch of chunks(g, stream)) for (const f of dec.push(ch)) got.push(Buffer.from(f));
      assert.equal(got.length, bodies.length, `case ${c}`);
      for (let i = 0; i < bodies.length; i++) assert.ok(got[i]!.equals(bodies[i]!), `case ${c} frame ${i}`);
      assert.equal(dec.pendingBytes, 0);
      for (const b of got) assert.doesNotThrow(() => ClientRequest.decode(b));
    }
  });

  it(`never throws anything but FrameError, never holds more than one frame (${CASES} hostile streams)`, () => {
    const g = new Gen(prng(0xbad));
    let frameErrors = 0;
    let frames = 0;
    for (let c = 0; c < CASES; c++) {
      const dec = new FrameDecoder(MAX_FRAME);
      const stream = Buffer.concat(Array.from({ length: 1 + g.int(6) }, () => g.streamBytes(MAX_FRAME)));
      try {
        for (const ch of chunks(g, stream)) {
          for (const f of dec.push(ch)) {
            frames++;
            assert.ok(f.length >= 1 && f.length <= MAX_FRAME);
          }
          assert.ok(dec.pendingBytes < MAX_FRAME + 4, 'decoder holds at most one partial frame');
        }
      } catch (err) {
        assert.ok(err instanceof FrameError, `case ${c}: ${String(err)}`);
        frameErrors++;
        // Once failed, the decoder refuses further input with the same error.
        assert.throws(() => dec.push(new Uint8Array([0, 0, 0, 1, 1])), FrameError);
      }
    }
    assert.ok(frameErrors > 0 && frames > 0);
  });

  it(`decoders throw or return, nothing worse, on ${CASES} random and mutated bodies`, () => {
    const g = new Gen(prng(0x5eed));
    let threw = 0;
    for (let c = 0; c < CASES; c++) {
      const body = g.int(2) === 0 ? g.bytes(g.int(200)) : g.mutate(g.validBody());
      for (const d of decoders) {
        try {
          const m = d.decode(body) as unknown as Record<string, unknown>;
          assert.equal(typeof m, 'object');
          if (d === ClientRequest) {
            const r = m as unknown as ClientRequest;
            assert.ok(r.payload instanceof Uint8Array);
            assert.equal(typeof r.msgId, 'number');
          }
        } catch (err) {
          assert.ok(err instanceof Error, `case ${c}: a non-Error was thrown`);
          threw++;
        }
      }
    }
    assert.ok(threw > 0);
  });
});
