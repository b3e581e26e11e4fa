import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  check,
  checkSession,
  type Delivery,
  describeProblems,
  type ProducerOp,
  percentile,
  unavailableWindows,
} from '../nemesis/checker.js';

const op = (producer: string, index: number, outcome: ProducerOp['outcome'] = 'accepted'): ProducerOp => ({
  producer,
  index,
  pushId: `${producer}-${index}`,
  outcome,
});

/** Deliveries on one gateway session `S`: the login answer at seq 1, then these pushes. */
const deliveries = (...pushIds: string[]): Delivery[] => [
  { sessionId: 'S', seq: 1 },
  ...pushIds.map((pushId, i) => ({ sessionId: 'S', seq: i + 2, pushId })),
];

describe('nemesis checker', () => {
  it('a clean history has no problems', () => {
    const r = check([
      {
        session: 'u1',
        ops: [op('a', 0), op('b', 0), op('a', 1), op('b', 1)],
        deliveries: deliveries('a-0', 'b-0', 'b-1', 'a-1'),
      },
    ]);
    assert.equal(r.ok, true);
    assert.equal(r.accepted, 4);
    assert.equal(r.delivered, 4);
    assert.equal(r.lost + r.duplicated + r.reused_seqs + r.order_violations + r.seq_gaps, 0);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(describeProblems(r), []);
  });

  it('an accepted push never delivered is lost; unknown or refused ones are not', () => {
    const r = check([
      {
        session: 'u1',
        ops: [op('a', 0), op('a', 1, 'unknown'), op('a', 2), op('a', 3, 'refused')],
        deliveries: deliveries('a-0'),
      },
    ]);
    assert.equal(r.lost, 1);
    assert.equal(r.unknown, 1);
    assert.equal(r.refused, 1);
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.problems[0]!.lost.map((l) => l.pushId),
      ['a-2'],
    );
    assert.match(describeProblems(r).join('\n'), /u1: LOST 1: a-2/);
  });

  it('an unknown push may be delivered once (its retry was de-duplicated) but not twice', () => {
    const once = check([{ session: 'u1', ops: [op('a', 0, 'unknown')], deliveries: deliveries('a-0') }]);
    assert.equal(once.ok, true);
    assert.equal(once.delivered, 1);
    const twice = check([
      { session: 'u1', ops: [op('a', 0, 'unknown')], deliveries: deliveries('a-0', 'a-0') },
    ]);
    assert.equal(twice.duplicated, 1);
    assert.deepEqual(twice.problems[0]!.duplicated, [{ pushId: 'a-0', seqs: [2, 3] }]);
    assert.equal(twice.ok, false);
  });

  it('a push delivered in two gateway sessions of one openid is a duplicate too', () => {
    const r = checkSession({
      session: 'u1',
      ops: [op('a', 0)],
      deliveries: [
        { sessionId: 'S1', seq: 1, pushId: 'a-0' },
        { sessionId: 'S2', seq: 1, pushId: 'a-0' },
      ],
    });
    assert.equal(r.counts.duplicated, 1);
    assert.equal(r.counts.sessions_replaced, 1);
    assert.equal(r.counts.seq_gaps, 0, 'seqs start over in a new session');
  });

  it('one seq carrying two pushes (seen on the wire) is a reused seq', () => {
    const r = check([
      {
        session: 'u1',
        ops: [op('a', 0), op('b', 0)],
        deliveries: deliveries('a-0', 'b-0'),
        frames: [
          { sessionId: 'S', seq: 2, pushId: 'a-0' },
          { sessionId: 'S', seq: 2, pushId: 'a-0' }, // a retransmission: fine
          { sessionId: 'S', seq: 3, pushId: 'a-0' }, // the same seq 3 later says b-0
          { sessionId: 'S', seq: 3, pushId: 'b-0' },
        ],
      },
    ]);
    assert.equal(r.reused_seqs, 1);
    assert.deepEqual(r.problems[0]!.reusedSeqs, [{ sessionId: 'S', seq: 3, pushIds: ['a-0', 'b-0'] }]);
    assert.equal(r.ok, false);
    assert.match(describeProblems(r).join('\n'), /REUSED SEQS 1: seq 3 of session S = a-0 & b-0/);
  });

  it('the same seq in two different gateway sessions is not reuse', () => {
    const r = checkSession({
      session: 'u1',
      ops: [op('a', 0), op('a', 1)],
      deliveries: [
        { sessionId: 'S1', seq: 1, pushId: 'a-0' },
        { sessionId: 'S2', seq: 1, pushId: 'a-1' },
      ],
    });
    assert.equal(r.counts.reused_seqs, 0);
  });

  it('a producer order violation: a later push of the producer overtakes an accepted one', () => {
    const r = check([
      {
        session: 'u1',
        ops: [op('a', 0), op('a', 1), op('b', 0)],
        deliveries: deliveries('b-0', 'a-1', 'a-0'),
      },
    ]);
    assert.equal(r.order_violations, 1);
    assert.deepEqual(r.problems[0]!.orderViolations, [
      { producer: 'a', pushId: 'a-0', index: 0, after: 'a-1', afterIndex: 1 },
    ]);
    assert.equal(r.ok, false);
  });

  it('an unknown push delivered late is not an order violation (no promise was made)', () => {
    const r = check([
      {
        session: 'u1',
        ops: [op('a', 0, 'unknown'), op('a', 1)],
        deliveries: deliveries('a-1', 'a-0'),
      },
    ]);
    assert.equal(r.order_violations, 0);
    assert.equal(r.ok, true);
  });

  it('a refused push that is delivered anyway is a phantom', () => {
    const r = check([{ session: 'u1', ops: [op('a', 0, 'refused')], deliveries: deliveries('a-0') }]);
    assert.equal(r.phantoms, 1);
    assert.equal(r.ok, false);
  });

  it('seqs of a session must be contiguous from 1', () => {
    const r = checkSession({
      session: 'u1',
      ops: [op('a', 0), op('a', 1)],
      deliveries: [
        { sessionId: 'S', seq: 1 },
        { sessionId: 'S', seq: 2, pushId: 'a-0' },
        { sessionId: 'S', seq: 4, pushId: 'a-1' },
      ],
    });
    assert.deepEqual(r.problems.seqGaps, [{ sessionId: 'S', expected: 3, got: 4 }]);
  });

  it('sums over sessions and names the bad one only', () => {
    const r = check([
      { session: 'good', ops: [op('a', 0)], deliveries: deliveries('a-0') },
      { session: 'bad', ops: [op('b', 0), op('b', 1)], deliveries: deliveries('b-0', 'b-0') },
    ]);
    assert.equal(r.accepted, 3);
    assert.equal(r.delivered, 2);
    assert.equal(r.lost, 1);
    assert.equal(r.duplicated, 1);
    assert.deepEqual(
      r.problems.map((p) => p.session),
      ['bad'],
    );
  });

  it('unavailability windows and percentiles', () => {
    assert.deepEqual(unavailableWindows([100, 150, 900, 950, 2000], 0, 2100, 250), [750, 1050]);
    assert.deepEqual(unavailableWindows([], 0, 1000, 250), [1000]);
    assert.deepEqual(unavailableWindows([10, 20], 0, 30, 250), []);
    assert.equal(percentile([], 50), 0);
    assert.equal(percentile([5, 1, 3], 50), 3);
    assert.equal(percentile([5, 1, 3], 100), 5);
  });
});
