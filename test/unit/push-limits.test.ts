/**
 * Idempotent pushes (push_id and its time window), oversize pushes and answers
 * (max_frame_bytes) and the byte budget (max_queue_bytes), on the pure machine
 * and its events (docs/protocol.md section 5, v1.1).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PushResult, SessionConfig } from '../../src/machines/session-machine.js';
import {
  LEGACY_PUSH_ID_WINDOW_MS,
  PUSH_ID_CAP,
  pendingBytes,
  pushIdOf,
  replaySessionEvents,
  type SessionEvent,
  type SessionState,
  snapshotEvents,
} from '../../src/machines/session-state.js';
import { ErrorCode, NotifySyncHint, PushType } from '../../src/protocol/codes.js';
import { FRAME_PREFIX_BYTES, notifyFrame, notifyFrameBytes } from '../../src/protocol/frames.js';
import { ErrorMessage, NotifyMessage } from '../../src/protocol/messages.js';
import { harness } from '../helpers/session-harness.js';

const notify = (content: string) => NotifyMessage.encode({ msgType: 't', content });
const WINDOW = 60_000;

type H = ReturnType<typeof harness>;

function attached(config: Partial<SessionConfig> = {}, restored?: SessionState): H {
  const h = harness({ pushDedupWindowMs: WINDOW, ...config }, restored);
  h.send({
    type: 'ATTACH',
    linkId: 1,
    connectionId: 'c1',
    msgId: 7,
    lastAckedSeq: restored ? restored.queue.lastAcked : 0,
    isNew: !restored,
  });
  h.take();
  return h;
}

/** One push with a push id; returns its answer (the harness replies synchronously). */
function push(
  h: H,
  payload: Uint8Array,
  pushId?: string,
  hint: NotifySyncHint = NotifySyncHint.IMMEDIATELY,
  bindSeq = 0,
): PushResult {
  let got: PushResult | undefined;
  h.send({ type: 'PUSH', items: [{ payload, hint, bindSeq, pushId, reply: (r) => (got = r) }] });
  assert.ok(got, 'push answered');
  return got;
}

function notifies(h: H): string[] {
  return h
    .frames()
    .filter((f) => f.type === PushType.NOTIFY)
    .map((f) => NotifyMessage.decode(f.payload).content);
}

function state(h: H): SessionState {
  return h.actor.getSnapshot().context.s;
}

describe('idempotent pushes (push_id)', () => {
  it('a repeat within the window delivers nothing and is answered with the first seq', () => {
    const h = attached();
    const first = push(h, notify('a'), 'p1');
    assert.deepEqual(first, { ok: true, seq: 1 });
    assert.deepEqual(notifies(h), ['a']);
    h.advance(WINDOW - 1);
    // Even with other content: the first accepted push with an id wins.
    assert.deepEqual(push(h, notify('a-again'), 'p1'), { ok: true, seq: 1, duplicate: true });
    assert.deepEqual(notifies(h), []);
    assert.deepEqual(push(h, notify('b'), 'p2'), { ok: true, seq: 2 });
    assert.deepEqual(notifies(h), ['b']);
  });

  it('once the window (event time) has passed, the same id is a new push', () => {
    const h = attached();
    push(h, notify('a'), 'p1');
    h.advance(WINDOW);
    assert.deepEqual(push(h, notify('a2'), 'p1'), { ok: true, seq: 2 });
    assert.deepEqual(notifies(h), ['a', 'a2']);
    // The new acceptance opens a new window.
    h.advance(WINDOW - 1);
    assert.deepEqual(push(h, notify('a3'), 'p1'), { ok: true, seq: 2, duplicate: true });
  });

  it('an empty push id, or a window of 0, means no de-duplication', () => {
    const h = attached();
    push(h, notify('x'), '');
    push(h, notify('y'), '');
    assert.deepEqual(notifies(h), ['x', 'y']);
    const off = attached({ pushDedupWindowMs: 0 });
    push(off, notify('x'), 'same');
    push(off, notify('y'), 'same');
    assert.deepEqual(notifies(off), ['x', 'y']);
    assert.equal(state(off).pushIds.size, 0);
  });

  it('a refused push remembers nothing: the same id is delivered on retry', () => {
    const h = attached({ maxQueue: 1 });
    push(h, notify('fill'));
    const refused = push(h, notify('r'), 'retry-me');
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.errorCode, 'QUEUE_FULL');
    h.send({ type: 'ACK', linkId: 1, seq: 1 });
    assert.deepEqual(push(h, notify('r'), 'retry-me'), { ok: true, seq: 2 });
    assert.deepEqual(notifies(h), ['fill', 'r']);
  });

  it('a held notify is remembered at once and learns its seq when released', () => {
    const h = attached();
    h.business(1, 'hello', 100);
    h.take();
    assert.deepEqual(push(h, notify('bound'), 'h1', NotifySyncHint.AFTER_RESPONSE, 1), { ok: true, seq: 0 });
    assert.deepEqual(push(h, notify('bound2'), 'h1', NotifySyncHint.AFTER_RESPONSE, 1), {
      ok: true,
      seq: 0,
      duplicate: true,
    });
    h.reply(1, 'hello', { zone: '1' });
    assert.deepEqual(notifies(h), ['bound']);
    // Answer is seq 1, the released notify seq 2.
    assert.deepEqual(push(h, notify('bound3'), 'h1'), { ok: true, seq: 2, duplicate: true });
    assert.deepEqual(notifies(h), []);
  });

  it('the window travels in events: replay and a snapshot give a backup the same window', () => {
    const h = attached();
    const events: SessionEvent[] = [
      { v: 1, type: 'started', sessionId: 'sess-1', openid: 'user-1', at: 1000 },
    ];
    h.actor.on('events', (e) => events.push(...e.events));
    push(h, notify('a'), 'p1');
    h.advance(WINDOW / 2);
    push(h, notify('b'), 'p2');
    h.advance(10);
    h.send({ type: 'ACK', linkId: 1, seq: 2 });
    const at = h.now;
    for (const rebuilt of [
      replaySessionEvents(events, 10),
      replaySessionEvents(snapshotEvents(replaySessionEvents(events, 10)), 10),
    ]) {
      assert.deepEqual(
        [...rebuilt.pushIds],
        [
          ['p1', { seq: 1, at: 1000, until: 1000 + WINDOW }],
          ['p2', { seq: 2, at: 1000 + WINDOW / 2, until: 1000 + WINDOW / 2 + WINDOW }],
        ],
      );
      // A session rebuilt from them decides exactly as the live one would.
      const b = attached({}, rebuilt);
      b.advance(at - b.now);
      assert.deepEqual(push(b, notify('a'), 'p1'), { ok: true, seq: 1, duplicate: true });
      b.advance(WINDOW / 2);
      assert.deepEqual(push(b, notify('a'), 'p1'), { ok: true, seq: 3 });
      assert.deepEqual(push(b, notify('b'), 'p2'), { ok: true, seq: 2, duplicate: true });
    }
  });

  it('a snapshot folds away ids whose window ended', () => {
    const h = attached();
    push(h, notify('old'), 'old');
    h.advance(WINDOW + 1);
    push(h, notify('new'), 'new');
    const s = state(h);
    const snap = snapshotEvents(s);
    const rebased = snap.find((e) => e.type === 'rebased');
    assert.ok(rebased && rebased.type === 'rebased');
    assert.deepEqual(
      rebased.pids?.map(([pid]) => pid),
      ['new'],
    );
  });

  it('events stored before v1.1 (no times) still replay; their ids get the legacy window', () => {
    const frame = notifyFrame(1, notify('legacy'));
    const s = replaySessionEvents(
      [
        { v: 1, type: 'started', sessionId: 's', openid: 'o', at: 5_000 },
        { v: 1, type: 'pushed', seq: 1, frame, answers: 0, pid: 'js:1' },
        {
          v: 1,
          type: 'rebased',
          lastAcked: 1,
          lastClientSeq: 0,
          resumes: 0,
          takeovers: 0,
          pushIds: ['js:0'],
        },
        { v: 1, type: 'attached', at: 6_000, kind: 'resume' },
      ],
      10,
    );
    assert.deepEqual(s.pushIds.get('js:1'), { seq: 1, at: 5_000, until: 5_000 + LEGACY_PUSH_ID_WINDOW_MS });
    assert.deepEqual(s.pushIds.get('js:0'), { seq: 0, at: 5_000, until: 5_000 + LEGACY_PUSH_ID_WINDOW_MS });
    assert.ok(pushIdOf(s, 'js:1', 5_000 + LEGACY_PUSH_ID_WINDOW_MS - 1));
    assert.equal(pushIdOf(s, 'js:1', 5_000 + LEGACY_PUSH_ID_WINDOW_MS), undefined);
  });

  it(`remembers at most ${PUSH_ID_CAP} ids, forgetting the oldest first`, () => {
    const h = attached({ maxQueue: PUSH_ID_CAP + 10 });
    const items = Array.from({ length: PUSH_ID_CAP + 1 }, (_, i) => ({
      payload: notify(`n${i}`),
      hint: NotifySyncHint.IMMEDIATELY,
      bindSeq: 0,
      pushId: `id-${i}`,
    }));
    h.send({ type: 'PUSH', items });
    const s = state(h);
    assert.equal(s.pushIds.size, PUSH_ID_CAP);
    assert.equal(s.pushIds.has('id-0'), false);
    assert.equal(s.pushIds.has(`id-${PUSH_ID_CAP}`), true);
  });
});

describe('max_frame_bytes for pushes and answers', () => {
  it('notifyFrameBytes bounds the real NOTIFY frame, exactly at the largest seq', () => {
    for (const len of [0, 1, 127, 128, 16_383, 16_384, 70_000]) {
      const payload = new Uint8Array(len);
      assert.equal(notifyFrame(Number.MAX_SAFE_INTEGER, payload).length, notifyFrameBytes(len), `len ${len}`);
      assert.ok(notifyFrame(1, payload).length <= notifyFrameBytes(len));
    }
  });

  it('a push whose NOTIFY frame would exceed max_frame_bytes is PAYLOAD_TOO_LARGE; nothing accepted', () => {
    const maxFrameBytes = 1000;
    const h = attached({ maxFrameBytes });
    // The largest payload that fits: its frame body is exactly max_frame_bytes.
    let fit = maxFrameBytes;
    while (notifyFrameBytes(fit) - FRAME_PREFIX_BYTES > maxFrameBytes) fit--;
    const over = push(h, new Uint8Array(fit + 1), 'big');
    assert.equal(over.ok, false);
    assert.equal(!over.ok && over.errorCode, 'PAYLOAD_TOO_LARGE');
    assert.deepEqual(h.frames(), []);
    assert.equal(state(h).queue.size, 0);
    assert.equal(state(h).pushIds.has('big'), false);
    const ok = push(h, new Uint8Array(fit), 'big');
    assert.deepEqual(ok, { ok: true, seq: 1 });
    const [frame] = h.take().flatMap((e) => (e.type === 'send' ? e.frames : []));
    assert.ok(frame && frame.length - FRAME_PREFIX_BYTES <= maxFrameBytes);
  });

  it('a bound notify over the limit is refused too (not held)', () => {
    const h = attached({ maxFrameBytes: 100 });
    h.business(1, 'hello', 100);
    const r = push(h, new Uint8Array(200), undefined, NotifySyncHint.BEFORE_RESPONSE, 1);
    assert.equal(!r.ok && r.errorCode, 'PAYLOAD_TOO_LARGE');
    assert.equal(state(h).binder.count, 0);
  });

  it('an upstream answer over max_frame_bytes becomes a reliable ERROR 502 with the same seq rules', () => {
    const h = attached({ maxFrameBytes: 200 });
    h.business(1, 'hello', 100);
    push(h, notify('before'), undefined, NotifySyncHint.BEFORE_RESPONSE, 1);
    h.take();
    h.send({
      type: 'UPSTREAM_REPLY',
      clientSeq: 1,
      service: 'hello',
      response: { code: 0, message: 'ok', data: new Uint8Array(500), headers: { zone: '4' }, clientSeqId: 1 },
    });
    const frames = h.frames();
    assert.deepEqual(
      frames.map((f) => [f.type, f.seqId]),
      [
        [PushType.NOTIFY, 1],
        [PushType.ERROR, 2],
      ],
    );
    const err = frames[1]!;
    assert.equal(err.msgId, 100);
    assert.equal(err.headers.client_seq, '1');
    const body = ErrorMessage.decode(err.payload);
    assert.equal(body.errorCode, ErrorCode.UPSTREAM_ERROR);
    assert.equal(body.errorMessage, 'upstream answer too large');
    // The client got an error, not the login answer: the session stays INITED.
    assert.equal(state(h).phase, 'inited');
    assert.equal(state(h).inflight.size, 0);
    // An answer that fits goes out as it is.
    h.business(2, 'hello', 101);
    h.reply(2, 'hello', { zone: '4' });
    assert.deepEqual(
      h.frames().map((f) => f.type),
      [PushType.BUSINESS_DATA],
    );
    assert.equal(state(h).phase, 'normal');
  });
});

describe('max_queue_bytes', () => {
  it('refuses a push beyond the byte budget with QUEUE_FULL; an ACK makes room again', () => {
    const payload = notify('x'.repeat(100));
    const frameBytes = notifyFrameBytes(payload.length);
    const h = attached({ maxQueueBytes: frameBytes * 3 });
    for (let i = 0; i < 3; i++) assert.equal(push(h, payload).ok, true);
    const refused = push(h, payload, 'later');
    assert.equal(refused.ok, false);
    assert.equal(!refused.ok && refused.errorCode, 'QUEUE_FULL');
    assert.match(!refused.ok ? refused.message : '', /max_queue_bytes/);
    assert.equal(state(h).queue.size, 3);
    assert.ok(pendingBytes(state(h)) <= frameBytes * 3);
    h.send({ type: 'ACK', linkId: 1, seq: 1 });
    assert.deepEqual(push(h, payload, 'later'), { ok: true, seq: 4 });
  });

  it('counts held notifies and refuses new requests while the budget is used up', () => {
    const payload = notify('y'.repeat(200));
    const frameBytes = notifyFrameBytes(payload.length);
    const h = attached({ maxQueueBytes: frameBytes * 2 });
    h.business(1, 'hello', 100);
    assert.equal(push(h, payload, undefined, NotifySyncHint.AFTER_RESPONSE, 1).ok, true);
    assert.equal(push(h, payload, undefined, NotifySyncHint.AFTER_RESPONSE, 1).ok, true);
    assert.equal(pendingBytes(state(h)), frameBytes * 2);
    assert.equal(push(h, payload).ok, false);
    h.take();
    // A new BUSINESS request is refused (control ERROR 507), not forwarded.
    h.business(2, 'hello', 101);
    const effects = h.take();
    assert.equal(
      effects.some((e) => e.type === 'upstream'),
      false,
    );
    const [ctl] = effects.flatMap((e) => (e.type === 'send' ? e.frames : []));
    assert.ok(ctl);
    // The owed answer still goes out, with the held notifies after it.
    h.reply(1, 'hello', { zone: '1' });
    assert.deepEqual(
      h.frames().map((f) => f.type),
      [PushType.BUSINESS_DATA, PushType.NOTIFY, PushType.NOTIFY],
    );
  });
});
