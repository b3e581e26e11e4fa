/**
 * Replay equals live: the real session machine is driven with random commands;
 * the events it emits, stored through the JetStream record codec (and through
 * a compaction snapshot), rebuild exactly the live session.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prepareAdoption, SessionFold } from '../../src/actors/failover.js';
import type { SessionConfig } from '../../src/machines/session-machine.js';
import {
  pendingBytes,
  replaySessionEvents,
  type SessionEvent,
  type SessionState,
  snapshotEvents,
  summarizeSession,
} from '../../src/machines/session-state.js';
import { NotifyMessage } from '../../src/protocol/messages.js';
import { decodeEventRecord, encodeEventRecord } from '../../src/transport/nats/event-codec.js';
import { harness } from '../helpers/session-harness.js';

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** What the session decides with: push ids whose window is still open at its latest event time. */
function view(s: SessionState) {
  const open = [...s.pushIds].filter(([, e]) => e.until > s.clock);
  return { ...summarizeSession(s), bytes: pendingBytes(s), clock: s.clock, pushIds: open };
}

/** Drive one session randomly; returns the live state and the stored records (as bytes). */
function randomRun(seed: number, steps: number, config: Partial<SessionConfig> = {}) {
  const r = rng(seed);
  const pick = (n: number) => Math.floor(r() * n);
  const h = harness({ maxQueue: 12, ...config });
  const records: Uint8Array[] = [
    encodeEventRecord([{ v: 1, type: 'started', sessionId: 'sess-1', openid: 'user-1', at: 1000 }]),
  ];
  h.actor.on('events', (e) => records.push(encodeEventRecord(e.events)));
  let link = 0;
  let nextLink = 1;
  let clientSeq = 0;
  let msgId = 1;
  for (let i = 0; i < steps; i++) {
    h.advance(pick(400));
    const s = h.actor.getSnapshot();
    if (s.status !== 'active') break;
    const ctx = s.context;
    const roll = pick(100);
    if (link === 0 || roll < 4) {
      link = nextLink++;
      h.send({
        type: 'ATTACH',
        linkId: link,
        connectionId: `c${link}`,
        msgId: msgId++,
        lastAckedSeq: pick(3) === 0 ? ctx.s.queue.lastSeq : 0,
        isNew: link === 1,
      });
    } else if (roll < 8) {
      h.send({ type: 'DETACH', linkId: link });
      link = 0;
    } else if (roll < 30) {
      const action = ctx.s.phase === 'normal' ? (pick(2) ? 'echo' : 'hello') : pick(4) ? 'hello' : 'echo';
      const seq = pick(10) === 0 ? Math.max(1, clientSeq) : ++clientSeq;
      h.send({
        type: 'BUSINESS',
        linkId: link,
        msgId: msgId++,
        seq,
        action,
        params: {},
        data: new Uint8Array([pick(256)]),
        headers: {},
      });
    } else if (roll < 45 && ctx.s.inflight.size > 0) {
      const seqs = [...ctx.s.inflight.keys()];
      const seq = seqs[pick(seqs.length)]!;
      if (pick(4) === 0) {
        h.send({ type: 'UPSTREAM_FAILED', clientSeq: seq, code: 504, message: 'timeout', detail: '' });
      } else {
        h.send({
          type: 'UPSTREAM_REPLY',
          clientSeq: seq,
          service: pick(2) ? 'hello' : 'zone',
          response: {
            code: 0,
            message: 'ok',
            data: new Uint8Array([1, 2, 3]),
            headers: { zone: String(pick(5)) },
            clientSeqId: seq,
          },
        });
      }
    } else if (roll < 75) {
      const inflight = [...ctx.s.inflight.keys()];
      const pushId = pick(3) === 0 ? `p${pick(30)}` : undefined;
      h.send({
        type: 'PUSH',
        items: [
          {
            payload: NotifyMessage.encode({ content: `n${i}`, data: new Uint8Array([i & 255]) }),
            hint: pick(3) as 0 | 1 | 2,
            bindSeq: inflight.length > 0 && pick(2) ? inflight[pick(inflight.length)]! : 0,
            pushId,
            reply: () => {},
          },
        ],
      });
    } else if (roll < 92) {
      h.send({ type: 'ACK', linkId: link, seq: pick(ctx.s.queue.lastSeq + 2) });
    } else if (roll < 99) {
      h.advance(pick(3) === 0 ? 1500 : 100);
      h.send({ type: 'TICK' });
      if (!h.actor.getSnapshot().context.s.attached) link = 0;
    } else {
      h.send({ type: 'STOP', linkId: link });
    }
  }
  return { live: h.actor.getSnapshot().context.s, records };
}

describe('session events: replay equals live', () => {
  it('record codec round-trips every event kind, bytes included', () => {
    const events: SessionEvent[] = [
      { v: 1, type: 'started', sessionId: 's', openid: 'o', at: 1 },
      { v: 1, type: 'pushed', seq: 1, frame: new Uint8Array([0, 1, 255]), answers: 0, pid: 'js:9' },
      { v: 1, type: 'held', clientSeq: 2, hint: 1, payload: new Uint8Array([7]) },
      { v: 1, type: 'held', clientSeq: 2, hint: 2, payload: new Uint8Array([8]), pid: 'x', at: 5, until: 9 },
      { v: 1, type: 'pushed', seq: 2, frame: new Uint8Array([1]), answers: 0, pid: 'y', at: 5, until: 9 },
      { v: 1, type: 'rebased', lastAcked: 3, lastClientSeq: 4, resumes: 1, takeovers: 0, pushIds: ['a'] },
      {
        v: 1,
        type: 'rebased',
        lastAcked: 3,
        lastClientSeq: 4,
        resumes: 1,
        takeovers: 0,
        pids: [['b', 7, 5, 9]],
        at: 6,
      },
    ];
    const back = decodeEventRecord(encodeEventRecord(events, true));
    assert.equal(back.snapshot, true);
    assert.deepEqual(back.events, events);
    assert.throws(() => decodeEventRecord(new TextEncoder().encode('{"v":2,"e":[]}')), /unsupported version/);
    assert.throws(
      () => decodeEventRecord(new TextEncoder().encode('{"v":1,"e":[{"v":9,"type":"acked"}]}')),
      /version/,
    );
  });

  it('random command sequences: replayed records == live state', () => {
    for (let seed = 1; seed <= 150; seed++) {
      const { live, records } = randomRun(seed, 120 + (seed % 80));
      const replayed = replaySessionEvents(
        records.flatMap((r) => decodeEventRecord(r).events),
        12,
      );
      const a = view(live);
      const b = view(replayed);
      // ATTACH kind does not matter after replay except for the counters, which are stored.
      assert.deepEqual(b, a, `seed ${seed}`);
    }
  });

  it('random command sequences with a short push id window: replayed records == live state', () => {
    for (let seed = 400; seed <= 460; seed++) {
      const { live, records } = randomRun(seed, 200, { pushDedupWindowMs: 1_500, maxQueueBytes: 200 });
      const replayed = replaySessionEvents(
        records.flatMap((r) => decodeEventRecord(r).events),
        12,
      );
      assert.deepEqual(view(replayed), view(live), `seed ${seed}`);
    }
  });

  for (const [name, config, seeds] of [
    ['', {}, [200, 260]],
    [
      ' (short push id window, small byte budget)',
      { pushDedupWindowMs: 1_500, maxQueueBytes: 200 },
      [500, 560],
    ],
  ] as const) {
    it(`a snapshot (compaction rollup) plus later records == live state${name}`, () => {
      for (let seed = seeds[0]; seed < seeds[1]; seed++) {
        const { live, records } = randomRun(seed, 200, config);
        const cut = Math.max(1, Math.floor(records.length / 2));
        const head = replaySessionEvents(
          records.slice(0, cut).flatMap((r) => decodeEventRecord(r).events),
          12,
        );
        const fold = new SessionFold(12);
        fold.apply('sess-1', decodeEventRecord(encodeEventRecord(snapshotEvents(head), true)));
        for (const r of records.slice(cut)) fold.apply('sess-1', decodeEventRecord(r));
        if (live.phase === 'closed') {
          assert.equal(fold.get('sess-1'), undefined, `seed ${seed}: closed sessions are dropped`);
          continue;
        }
        const got = fold.get('sess-1');
        assert.ok(got, `seed ${seed}`);
        const a = view(live);
        const b = view(got);
        // A snapshot keeps the counters and attachment, not how the current link came to be.
        assert.deepEqual(
          { ...b, pushIds: new Set(b.pushIds) },
          { ...a, pushIds: new Set(a.pushIds) },
          `seed ${seed}`,
        );
      }
    });
  }

  it('adoption detaches the session and lists requests whose answer was lost', () => {
    const { live } = randomRun(7, 60);
    if (live.phase === 'closed') return;
    const s = replaySessionEvents(snapshotEvents(live), 12);
    const a = prepareAdoption(s, 10_000_000, 60_000);
    assert.ok(a);
    assert.equal(s.attached, false);
    assert.deepEqual(
      a.orphanedRequests,
      [...live.inflight.keys()].sort((x, y) => x - y),
    );
    assert.equal(prepareAdoption(s, 10_000_000 + 60_000, 60_000), null);
  });
});
