import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PushType } from '../../src/protocol/codes.js';
import { notifyFrame, pushFrame } from '../../src/protocol/frames.js';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { ServerPush } from '../../src/protocol/messages.js';

const SEQS = [
  0,
  1,
  127,
  128,
  16_383,
  16_384,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 35 + 5,
  Number.MAX_SAFE_INTEGER,
];
const LENGTHS = [0, 1, 127, 128, 300, 16_384, 70_000];

describe('notifyFrame (envelope written around a pre-encoded payload)', () => {
  it('gives the bytes ServerPush.encode gives, for every varint size of seq and payload length', () => {
    for (const seq of SEQS) {
      for (const len of LENGTHS) {
        const payload = new Uint8Array(len).map((_, i) => (i * 31 + 7) & 0xff);
        const expected = pushFrame(PushType.NOTIFY, 0, seq, payload);
        assert.deepEqual(
          Buffer.from(notifyFrame(seq, payload)),
          Buffer.from(expected),
          `seq ${seq} len ${len}`,
        );
      }
    }
  });

  it('decodes back to the seq and payload it was given', () => {
    const payload = Uint8Array.of(1, 2, 3, 250);
    const [body] = new FrameDecoder(1024).push(notifyFrame(2 ** 40 + 3, payload));
    const m = ServerPush.decode(body!);
    assert.equal(m.seqId, 2 ** 40 + 3);
    assert.equal(m.type, PushType.NOTIFY);
    assert.equal(m.msgId, 0);
    assert.deepEqual(Buffer.from(m.payload), Buffer.from(payload));
  });
});
