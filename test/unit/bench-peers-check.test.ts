/** The peers benchmark's delivery check and producer window (bench/lib/peers/payload.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  nowMs,
  PAYLOAD_BYTES,
  readStamp,
  SeqCheck,
  sendWindowed,
  stamp,
} from '../../bench/lib/peers/payload.js';

describe('peers payload', () => {
  it('is 256 bytes and carries its seq and send time', () => {
    const before = nowMs();
    const b = stamp(4_000_000_000);
    assert.equal(b.length, PAYLOAD_BYTES);
    const s = readStamp(b);
    assert.equal(s.seq, 4_000_000_000);
    assert.ok(s.sentAt >= before && s.sentAt <= nowMs());
  });

  it('rejects a payload of another size', () => {
    assert.throws(() => readStamp(new Uint8Array(10)), /10 bytes/);
  });
});

describe('SeqCheck', () => {
  const feed = (expected: number, seqs: number[]) => {
    const c = new SeqCheck(expected, true);
    const done = seqs.map((s) => c.add(stamp(s)));
    return { c, done, tally: c.tally() };
  };

  it('an in-order stream is whole and complete on its last message', () => {
    const { c, done, tally } = feed(3, [1, 2, 3]);
    assert.deepEqual(done, [false, false, true]);
    assert.deepEqual(tally, { received: 3, duplicated: 0, reordered: 0, lost: 0 });
    assert.equal(c.latencies.length, 3);
  });

  it('counts a lost message', () => {
    const { c, tally } = feed(4, [1, 2, 4]);
    assert.equal(c.complete, false);
    assert.deepEqual(tally, { received: 3, duplicated: 0, reordered: 0, lost: 1 });
  });

  it('counts a duplicate once and does not count it as received', () => {
    const { tally } = feed(3, [1, 2, 2, 3]);
    assert.deepEqual(tally, { received: 3, duplicated: 1, reordered: 0, lost: 0 });
  });

  it('counts a message that arrives after a later one as reordered', () => {
    const { c, tally } = feed(4, [1, 3, 2, 4]);
    assert.equal(c.complete, true);
    assert.deepEqual(tally, { received: 4, duplicated: 0, reordered: 1, lost: 0 });
  });
});

describe('sendWindowed', () => {
  it('sends 1..n in order and never has more than `window` unconfirmed', async () => {
    const started: number[] = [];
    let open = 0;
    let most = 0;
    const r = await sendWindowed(50, 7, async (seq) => {
      started.push(seq);
      open++;
      most = Math.max(most, open);
      await new Promise((res) => setImmediate(res));
      open--;
    });
    assert.deepEqual(
      started,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(most, 7);
    assert.ok(r.seconds >= 0 && r.startAt > 0);
  });
});
