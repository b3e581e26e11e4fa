/**
 * Model-based property test of reliable delivery (docs/protocol.md section 3) against
 * the real session machine: random interleavings of producer pushes, client
 * ACKs, timer ticks, dead links, drops, resumes and takeovers. Whatever happens,
 * the client's record is exactly 1..n in order with no gap and no duplicate,
 * every push accepted is delivered once after a final resume, and pending never
 * exceeds max_queue.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { SessionEffect } from '../../src/machines/session-machine.js';
import { summarizeSession } from '../../src/machines/session-state.js';
import { NotifySyncHint, PushType } from '../../src/protocol/codes.js';
import { NotifyMessage } from '../../src/protocol/messages.js';
import { decodeFrame, harness } from '../helpers/session-harness.js';

type Op =
  | { op: 'push'; hint: 0 | 1 | 2 }
  | { op: 'request' }
  | { op: 'answer' }
  | { op: 'ack' }
  | { op: 'tick'; ms: number }
  | { op: 'break' }
  | { op: 'drop' }
  | { op: 'resume' }
  | { op: 'takeover' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('push' as const),
      hint: fc.constantFrom(0, 1, 2) as fc.Arbitrary<0 | 1 | 2>,
    }),
  },
  { weight: 2, arbitrary: fc.constant({ op: 'request' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'answer' as const }) },
  { weight: 3, arbitrary: fc.constant({ op: 'ack' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 400 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'break' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'drop' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'resume' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'takeover' as const }) },
);

const MAX_QUEUE = 8;

function run(ops: Op[]): void {
  const h = harness({
    ackTimeoutMs: 100,
    maxRetries: 2,
    maxQueue: MAX_QUEUE,
    resumeWindowMs: 1e9,
    sessionTimeoutMs: 1e9,
  });
  /** The client: what it delivered, in order; which link it listens on; whether that link still carries bytes. */
  const delivered: string[] = [];
  let lastSeq = 0;
  let link = 1;
  let linkAlive = true;
  let nextLink = 2;
  let nextClientSeq = 1;
  const inflight: number[] = [];
  const accepted: string[] = [];
  let produced = 0;

  const drain = (effects: SessionEffect[]) => {
    for (const e of effects) {
      if (e.type === 'close' && e.linkId === link) linkAlive = false;
      if (e.type !== 'send' || e.linkId !== link || !linkAlive) continue;
      for (const f of e.frames) {
        const p = decodeFrame(f);
        if (p.seqId === 0) continue;
        assert.ok(p.seqId <= lastSeq + 1, `gap: got ${p.seqId} after ${lastSeq}`);
        if (p.seqId <= lastSeq) continue; // a retransmission: ignored by the client
        lastSeq = p.seqId;
        delivered.push(
          p.type === PushType.NOTIFY
            ? NotifyMessage.decode(p.payload).content
            : `answer:${p.headers.client_seq}`,
        );
      }
    }
  };
  const step = (fn: () => void) => {
    fn();
    drain(h.take());
    const s = h.actor.getSnapshot().context.s;
    const sum = summarizeSession(s);
    assert.ok(sum.pending + sum.held <= MAX_QUEUE, `pending ${sum.pending}+${sum.held} above max_queue`);
  };

  /** The client comes back on a new link and resumes from what it delivered. */
  const reconnect = () => {
    const id = nextLink++;
    link = id;
    linkAlive = true;
    step(() =>
      h.send({
        type: 'ATTACH',
        linkId: id,
        connectionId: `c${id}`,
        msgId: 1,
        lastAckedSeq: lastSeq,
        isNew: false,
      }),
    );
  };

  h.send({ type: 'ATTACH', linkId: 1, connectionId: 'c1', msgId: 1, lastAckedSeq: 0, isNew: true });
  drain(h.take());
  // Log in so BUSINESS requests are forwarded.
  step(() => h.business(nextClientSeq++, 'hello', 1, 1));
  step(() => h.reply(1, 'hello', { zone: '1' }));
  accepted.push('answer:1');

  for (const o of ops) {
    switch (o.op) {
      case 'push': {
        const content = `n${produced++}`;
        const bind = o.hint === NotifySyncHint.IMMEDIATELY ? 0 : (inflight[0] ?? 0);
        step(() =>
          h.send({
            type: 'PUSH',
            items: [
              {
                payload: NotifyMessage.encode({ content }),
                hint: o.hint,
                bindSeq: bind,
                reply: (r) => {
                  if (r.ok) accepted.push(content);
                },
              },
            ],
          }),
        );
        break;
      }
      case 'request': {
        const seq = nextClientSeq++;
        let forwarded = false;
        h.actor.on('upstream', (e) => {
          if (e.clientSeq === seq) forwarded = true;
        });
        step(() => h.business(seq, 'echo', seq, link));
        if (forwarded) {
          inflight.push(seq);
          accepted.push(`answer:${seq}`);
        }
        break;
      }
      case 'answer': {
        const seq = inflight.shift();
        if (seq === undefined) break;
        step(() => h.reply(seq, 'zone'));
        break;
      }
      case 'ack':
        if (linkAlive) step(() => h.send({ type: 'ACK', linkId: link, seq: lastSeq }));
        break;
      case 'tick':
        h.advance(o.ms);
        step(() => h.send({ type: 'TICK' }));
        break;
      case 'break':
        // The network dies silently: nothing more reaches the client on this link.
        linkAlive = false;
        break;
      case 'drop':
        step(() => h.send({ type: 'DETACH', linkId: link }));
        linkAlive = false;
        break;
      case 'resume':
      case 'takeover': {
        if (o.op === 'resume' && linkAlive) break;
        reconnect();
        break;
      }
    }
  }
  // Finally: the requests get their answers, the client resumes and acknowledges everything.
  for (const seq of inflight.splice(0)) {
    step(() => h.reply(seq, 'zone'));
  }
  reconnect();
  step(() => h.send({ type: 'ACK', linkId: link, seq: lastSeq }));

  assert.equal(delivered.length, lastSeq);
  assert.deepEqual([...delivered].sort(), [...accepted].sort(), 'every accepted push delivered exactly once');
  // Immediate notifies keep their arrival order among themselves.
  const immediateOrder = delivered.filter((d) => d.startsWith('n'));
  assert.equal(new Set(immediateOrder).size, immediateOrder.length);
  assert.equal(h.actor.getSnapshot().context.s.queue.size, 0);
}

describe('delivery properties', () => {
  it('holds for random interleavings of push, ack, timers, drops, resumes and takeovers', () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => run(ops)),
      { numRuns: 300, seed: Number(process.env.GATESVR_PROPERTY_SEED ?? 20261125) },
    );
  });
});
