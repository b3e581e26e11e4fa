import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotifyBinder } from '../../src/machines/notify-binder.js';
import { OrderedQueue } from '../../src/machines/ordered-queue.js';
import { NotifySyncHint } from '../../src/protocol/codes.js';

const frame = (seq: number) => Uint8Array.of(seq);

describe('ordered queue', () => {
  it('numbers pushes from 1 and keeps them until a cumulative ACK', () => {
    const q = new OrderedQueue(10);
    for (let i = 0; i < 4; i++) q.append(frame);
    assert.deepEqual(
      q.pending().map((e) => e.seq),
      [1, 2, 3, 4],
    );
    assert.deepEqual(
      q.ack(2).map((e) => e.seq),
      [1, 2],
    );
    assert.equal(q.lastAcked, 2);
    assert.equal(q.size, 2);
  });

  it('clamps an ACK above the last seq and ignores one below an earlier ACK', () => {
    const q = new OrderedQueue(10);
    q.append(frame);
    q.append(frame);
    q.ack(100);
    assert.equal(q.lastAcked, 2);
    assert.deepEqual(q.ack(1), []);
    q.append(frame);
    assert.deepEqual(
      q.pending().map((e) => e.seq),
      [3],
    );
  });

  it('reports room against max_queue', () => {
    const q = new OrderedQueue(2);
    assert.ok(q.hasRoom());
    q.append(frame);
    q.append(frame);
    assert.ok(!q.hasRoom());
    q.ack(1);
    assert.ok(q.hasRoom());
  });

  it('hands out unsent entries once, in order, and resends after ack_timeout with the same seq', () => {
    const q = new OrderedQueue(10);
    q.append(frame);
    q.append(frame);
    assert.deepEqual(
      q.takeUnsent(100).map((e) => e.seq),
      [1, 2],
    );
    assert.deepEqual(q.takeUnsent(100), []);
    assert.equal(q.nextDeadline(50), 150);
    assert.deepEqual(q.retransmit(149, 50, 2).resend, []);
    const plan = q.retransmit(150, 50, 2);
    assert.deepEqual(
      plan.resend.map((e) => [e.seq, e.retries]),
      [
        [1, 1],
        [2, 1],
      ],
    );
    q.retransmit(200, 50, 2);
    assert.equal(q.retransmit(250, 50, 2).exhausted, true, 'retries used up');
  });

  it('a new link resends everything pending from the start with fresh retries', () => {
    const q = new OrderedQueue(10);
    q.append(frame);
    q.takeUnsent(0);
    q.retransmit(100, 10, 5);
    q.resetForNewLink();
    const again = q.takeUnsent(200);
    assert.deepEqual(
      again.map((e) => [e.seq, e.retries]),
      [[1, 0]],
    );
  });

  it('compacts its array after many ACKs without changing seqs', () => {
    const q = new OrderedQueue(1000);
    for (let i = 0; i < 500; i++) q.append(frame);
    q.ack(400);
    assert.equal(q.pending()[0]!.seq, 401);
    q.append(frame);
    assert.equal(q.lastSeq, 501);
    assert.equal(q.size, 101);
  });

  it('clamps a client ACK to the highest seq sent, which survives a new link', () => {
    const q = new OrderedQueue(10);
    for (let i = 0; i < 3; i++) q.append(frame);
    assert.equal(q.highestSent, 0);
    assert.equal(q.clampAck(Number.MAX_SAFE_INTEGER), 0);
    q.takeUnsent(10);
    assert.equal(q.highestSent, 3);
    q.append(frame);
    q.append(frame); // queued, never sent
    assert.equal(q.clampAck(Number.MAX_SAFE_INTEGER), 3);
    q.resetForNewLink();
    assert.equal(q.highestSent, 3, 'the client may hold what the old link delivered');
    assert.deepEqual(
      q.ack(q.clampAck(Number.MAX_SAFE_INTEGER)).map((e) => e.seq),
      [1, 2, 3],
    );
    assert.deepEqual(
      q.pending().map((e) => e.seq),
      [4, 5],
    );
    assert.equal(q.clampAck(2), 2, 'at or below an earlier ACK: the caller ignores it');
    assert.deepEqual(
      q.takeUnsent(20).map((e) => e.seq),
      [4, 5],
    );
    assert.equal(q.clampAck(Number.MAX_SAFE_INTEGER), 5);
  });

  it('a queue rebuilt from events starts with nothing sent beyond lastAcked; ack() replays recorded values', () => {
    const q = new OrderedQueue(10, 8, 7);
    assert.equal(q.highestSent, 7);
    q.restore(8, frame(8));
    q.restore(9, frame(9));
    assert.equal(q.clampAck(9), 7);
    // A recorded (already clamped) ACK replays as-is; ack() still clamps to the highest seq queued.
    assert.deepEqual(
      q.ack(8).map((e) => e.seq),
      [8],
    );
    assert.equal(q.highestSent, 8);
    assert.deepEqual(
      q.ack(100).map((e) => e.seq),
      [9],
    );
    assert.equal(q.lastAcked, 9);
  });

  it('restores entries in seq order only', () => {
    const q = new OrderedQueue(10, 5, 4);
    q.restore(5, frame(5));
    assert.throws(() => q.restore(7, frame(7)));
  });
});

describe('notify binder', () => {
  it('splits held notifies around the answer, keeping arrival order on each side', () => {
    const b = new NotifyBinder();
    b.hold(3, { hint: NotifySyncHint.AFTER_RESPONSE, payload: Uint8Array.of(1) });
    b.hold(3, { hint: NotifySyncHint.BEFORE_RESPONSE, payload: Uint8Array.of(2) });
    b.hold(3, { hint: NotifySyncHint.BEFORE_RESPONSE, payload: Uint8Array.of(3) });
    b.hold(4, { hint: NotifySyncHint.AFTER_RESPONSE, payload: Uint8Array.of(4) });
    assert.equal(b.count, 4);
    const r = b.releaseAroundAnswer(3);
    assert.deepEqual(
      r.before.map((n) => n.payload[0]),
      [2, 3],
    );
    assert.deepEqual(
      r.after.map((n) => n.payload[0]),
      [1],
    );
    assert.equal(b.count, 1);
    assert.deepEqual(
      b.releaseInOrder(4).map((n) => n.payload[0]),
      [4],
    );
    assert.deepEqual(b.releaseInOrder(4), []);
    assert.equal(b.count, 0);
  });
});
