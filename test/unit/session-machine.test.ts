import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  replaySessionEvents,
  type SessionEvent,
  summarizeSession,
} from '../../src/machines/session-state.js';
import { CloseCode, ErrorCode, NotifySyncHint, PushType } from '../../src/protocol/codes.js';
import { BusinessResponse, ErrorMessage, NotifyMessage, StartResponse } from '../../src/protocol/messages.js';
import { harness } from '../helpers/session-harness.js';

const notify = (content: string) => NotifyMessage.encode({ msgType: 't', content });
const ok = (zone?: string) => ({
  code: 0,
  message: 'ok',
  data: new Uint8Array(0),
  headers: (zone ? { zone } : {}) as Record<string, string>,
  clientSeqId: 0,
});

function attached(config = {}) {
  const h = harness(config);
  h.send({ type: 'ATTACH', linkId: 1, connectionId: 'c1', msgId: 7, lastAckedSeq: 0, isNew: true });
  return h;
}

function login(h: ReturnType<typeof harness>, seq = 1) {
  h.business(seq, 'hello', 100);
  h.reply(seq, 'hello', { zone: '3' });
}

describe('session machine', () => {
  it('answers START with a new session, seq 0 and the heartbeat interval', () => {
    const h = attached();
    const [resp] = h.frames();
    assert.equal(resp!.type, PushType.START_RESP);
    assert.equal(resp!.seqId, 0);
    assert.equal(resp!.msgId, 7);
    const body = StartResponse.decode(resp!.payload);
    assert.equal(body.success, true);
    assert.equal(body.sessionId, 'sess-1');
    assert.equal(body.resumed, false);
    assert.equal(body.heartbeatInterval, 30);
    assert.deepEqual(h.actor.getSnapshot().value, { active: { phase: 'inited', link: 'attached' } });
  });

  it('answers HEARTBEAT at once with a control frame', () => {
    const h = attached();
    h.take();
    h.send({ type: 'HEARTBEAT', linkId: 1, msgId: 9, clientTimestamp: 42 });
    const [hb] = h.frames();
    assert.equal(hb!.type, PushType.HEARTBEAT_RESP);
    assert.equal(hb!.msgId, 9);
    assert.equal(hb!.seqId, 0);
  });

  it('refuses non-hello actions in INITED with a reliable ERROR 403', () => {
    const h = attached();
    h.take();
    h.business(1, 'echo', 5);
    const effects = h.take();
    assert.ok(!effects.some((e) => e.type === 'upstream'));
    const frames = effects.flatMap((e) => (e.type === 'send' ? e.frames : []));
    assert.equal(frames.length, 1);
  });

  it('logs in on a hello answer with code 0 and a zone header', () => {
    const h = attached();
    h.take();
    h.business(1, 'Hello', 5);
    const up = h.take().find((e) => e.type === 'upstream');
    assert.ok(up && up.type === 'upstream' && up.service === 'hello');
    h.send({ type: 'UPSTREAM_REPLY', clientSeq: 1, service: 'hello', response: ok('3') });
    const [answer] = h.frames();
    assert.equal(answer!.type, PushType.BUSINESS_DATA);
    assert.equal(answer!.seqId, 1);
    assert.equal(answer!.msgId, 5);
    assert.equal(answer!.headers.client_seq, '1');
    assert.equal(BusinessResponse.decode(answer!.payload).code, 0);
    assert.deepEqual(h.actor.getSnapshot().value, { active: { phase: 'normal', link: 'attached' } });
    assert.equal(h.actor.getSnapshot().context.s.zone, 3);
  });

  it('does not log in on a hello answer without zone or with a non-zero code', () => {
    const h = attached();
    h.business(1, 'hello', 5);
    h.send({ type: 'UPSTREAM_REPLY', clientSeq: 1, service: 'hello', response: ok() });
    h.business(2, 'hello', 6);
    h.send({ type: 'UPSTREAM_REPLY', clientSeq: 2, service: 'hello', response: { ...ok('4'), code: 1 } });
    assert.equal(h.actor.getSnapshot().context.s.phase, 'inited');
  });

  it('rejects seq 0 with a control ERROR 400 and never forwards duplicates', () => {
    const h = attached();
    login(h);
    h.take();
    h.business(0, 'echo', 8);
    const [bad] = h.frames();
    assert.equal(bad!.type, PushType.ERROR);
    assert.equal(bad!.seqId, 0);
    assert.equal(ErrorMessage.decode(bad!.payload).errorCode, ErrorCode.BAD_REQUEST);
    // seq 1 is the (unacknowledged) login answer: silently dropped, no upstream call.
    h.business(1, 'echo', 9);
    assert.deepEqual(h.take(), []);
    // Once acknowledged, a duplicate gets a reliable 409.
    h.send({ type: 'ACK', linkId: 1, seq: 1 });
    h.take();
    h.business(1, 'echo', 9);
    const [dup] = h.frames();
    assert.equal(dup!.type, PushType.ERROR);
    assert.equal(dup!.seqId, 2);
    assert.equal(dup!.headers.client_seq, '1');
    assert.equal(ErrorMessage.decode(dup!.payload).errorCode, ErrorCode.DUPLICATE_REQUEST);
  });

  it('delivers bound notifies before and after the answer, immediate ones at once', () => {
    const h = attached();
    login(h);
    h.business(2, 'echo', 20);
    h.take();
    h.push(notify('after'), NotifySyncHint.AFTER_RESPONSE, 2);
    h.push(notify('before'), NotifySyncHint.BEFORE_RESPONSE, 2);
    h.push(notify('now'), NotifySyncHint.IMMEDIATELY, 2);
    const immediate = h.frames();
    assert.equal(immediate.length, 1);
    assert.equal(NotifyMessage.decode(immediate[0]!.payload).content, 'now');
    h.send({ type: 'UPSTREAM_REPLY', clientSeq: 2, service: 'zone', response: ok() });
    const out = h.frames();
    assert.deepEqual(
      out.map((p) => (p.type === PushType.NOTIFY ? NotifyMessage.decode(p.payload).content : 'answer')),
      ['before', 'answer', 'after'],
    );
    assert.deepEqual(h.reliableSeqs(out), [3, 4, 5]);
    // Bound to an answer already gone: delivered at once.
    h.push(notify('late'), NotifySyncHint.BEFORE_RESPONSE, 2);
    assert.equal(h.frames().length, 1);
  });

  it('releases bound notifies in arrival order when the request fails', () => {
    const h = attached();
    login(h);
    h.business(2, 'echo', 20);
    h.push(notify('a'), NotifySyncHint.AFTER_RESPONSE, 2);
    h.push(notify('b'), NotifySyncHint.BEFORE_RESPONSE, 2);
    h.take();
    h.send({
      type: 'UPSTREAM_FAILED',
      clientSeq: 2,
      code: ErrorCode.UPSTREAM_TIMEOUT,
      message: 'timeout',
      detail: '',
    });
    const out = h.frames();
    assert.deepEqual(
      out.map((p) => (p.type === PushType.NOTIFY ? NotifyMessage.decode(p.payload).content : p.type)),
      ['a', 'b', PushType.ERROR],
    );
    assert.equal(ErrorMessage.decode(out[2]!.payload).errorCode, ErrorCode.UPSTREAM_TIMEOUT);
  });

  it('refuses pushes beyond max_queue with QUEUE_FULL and drops nothing accepted', () => {
    const h = attached({ maxQueue: 3 });
    const results: string[] = [];
    for (let i = 0; i < 5; i++) {
      h.push(notify(String(i)), NotifySyncHint.IMMEDIATELY, 0, (r) =>
        results.push(r.ok ? 'ok' : r.errorCode),
      );
    }
    assert.deepEqual(results, ['ok', 'ok', 'ok', 'QUEUE_FULL', 'QUEUE_FULL']);
    h.send({ type: 'ACK', linkId: 1, seq: 2 });
    h.push(notify('x'), NotifySyncHint.IMMEDIATELY, 0, (r) => results.push(r.ok ? 'ok' : r.errorCode));
    assert.equal(results.at(-1), 'ok');
    assert.deepEqual(summarizeSession(h.actor.getSnapshot().context.s).pendingSeqs, [3, 4]);
  });

  it('clamps ACKs above the highest seq and ignores ACKs below an earlier one', () => {
    const h = attached();
    for (let i = 0; i < 3; i++) h.push(notify(String(i)), 0, 0);
    h.send({ type: 'ACK', linkId: 1, seq: 99 });
    assert.equal(h.actor.getSnapshot().context.s.queue.lastAcked, 3);
    h.send({ type: 'ACK', linkId: 1, seq: 1 });
    assert.equal(h.actor.getSnapshot().context.s.queue.lastAcked, 3);
    h.push(notify('n'), 0, 0);
    assert.equal(h.actor.getSnapshot().context.s.queue.lastSeq, 4);
  });

  it('retransmits with the same seq after ack_timeout, then closes 0x10 and stays resumable', () => {
    const h = attached({ ackTimeoutMs: 100, maxRetries: 2 });
    h.push(notify('x'), 0, 0);
    h.take();
    h.advance(100);
    h.send({ type: 'TICK' });
    assert.deepEqual(h.reliableSeqs(h.frames()), [1]);
    h.advance(100);
    h.send({ type: 'TICK' });
    assert.deepEqual(h.reliableSeqs(h.frames()), [1]);
    h.advance(100);
    h.send({ type: 'TICK' });
    const effects = h.take();
    const close = effects.find((e) => e.type === 'close');
    assert.ok(close && close.type === 'close' && close.code === CloseCode.ACK_TIMEOUT);
    assert.deepEqual(h.actor.getSnapshot().value, { active: { phase: 'inited', link: 'detached' } });
    // Resume: the unacknowledged push is sent again with its seq.
    h.send({ type: 'ATTACH', linkId: 2, connectionId: 'c2', msgId: 1, lastAckedSeq: 0, isNew: false });
    const out = h.frames();
    assert.equal(StartResponse.decode(out[0]!.payload).resumed, true);
    assert.deepEqual(h.reliableSeqs(out), [1]);
  });

  it('resumes: drops what the client acknowledged, resends the rest in order, keeps seqs', () => {
    const h = attached();
    login(h);
    for (let i = 0; i < 4; i++) h.push(notify(String(i)), 0, 0);
    h.send({ type: 'DETACH', linkId: 1 });
    h.push(notify('while-away'), 0, 0);
    h.take();
    h.send({ type: 'ATTACH', linkId: 2, connectionId: 'c2', msgId: 3, lastAckedSeq: 2, isNew: false });
    const out = h.frames();
    const resp = StartResponse.decode(out[0]!.payload);
    assert.equal(resp.resumed, true);
    assert.equal(resp.lastClientSeq, 1);
    assert.equal(resp.zone, 3);
    assert.deepEqual(h.reliableSeqs(out), [3, 4, 5, 6]);
    // Frames from the old link are ignored.
    h.send({ type: 'ACK', linkId: 1, seq: 6 });
    assert.equal(h.actor.getSnapshot().context.s.queue.lastAcked, 2);
  });

  it('takeover closes the old link with 0x11 and resumes on the new one', () => {
    const h = attached();
    h.take();
    h.send({ type: 'ATTACH', linkId: 2, connectionId: 'c2', msgId: 3, lastAckedSeq: 0, isNew: false });
    const effects = h.take();
    const close = effects.find((e) => e.type === 'close');
    assert.ok(
      close && close.type === 'close' && close.linkId === 1 && close.code === CloseCode.SESSION_TAKEN_OVER,
    );
    assert.equal(h.actor.getSnapshot().context.linkId, 2);
    assert.equal(h.actor.getSnapshot().context.s.takeovers, 1);
  });

  it('expires a detached session after resume_window and an idle one after session_timeout', () => {
    const h = attached({ resumeWindowMs: 500 });
    h.send({ type: 'DETACH', linkId: 1 });
    h.advance(499);
    h.send({ type: 'TICK' });
    assert.equal(h.actor.getSnapshot().status, 'active');
    h.advance(1);
    h.send({ type: 'TICK' });
    assert.equal(h.actor.getSnapshot().status, 'done');
    assert.ok(h.take().some((e) => e.type === 'ended'));

    const idle = attached({ sessionTimeoutMs: 1000 });
    idle.advance(1000);
    idle.send({ type: 'TICK' });
    const closing = idle.take();
    assert.ok(closing.some((e) => e.type === 'close' && e.code === CloseCode.NO_ERROR));
    assert.equal(idle.actor.getSnapshot().status, 'done');
  });

  it('STOP closes the session and the link with code 0', () => {
    const h = attached();
    h.take();
    h.send({ type: 'STOP', linkId: 1 });
    const effects = h.take();
    assert.ok(effects.some((e) => e.type === 'close' && e.code === CloseCode.NO_ERROR));
    assert.ok(effects.some((e) => e.type === 'ended' && e.reason === 'stop'));
    assert.equal(h.actor.getSnapshot().value, 'closed');
  });

  it('stores events that replay to the same state', () => {
    const h = attached();
    const events: SessionEvent[] = [
      { v: 1, type: 'started', sessionId: 'sess-1', openid: 'user-1', at: 1000 },
    ];
    h.actor.on('events', (e) => events.push(...e.events));
    login(h);
    h.business(2, 'echo', 20);
    h.push(notify('b'), NotifySyncHint.BEFORE_RESPONSE, 2);
    for (let i = 0; i < 3; i++) h.push(notify(String(i)), 0, 0);
    h.send({ type: 'ACK', linkId: 1, seq: 2 });
    h.send({ type: 'DETACH', linkId: 1 });
    const live = summarizeSession(h.actor.getSnapshot().context.s);
    // The ATTACH happened before we subscribed; it only flips attachment, which DETACH undid.
    const replayed = summarizeSession(replaySessionEvents(events, 10));
    assert.deepEqual({ ...replayed, resumes: live.resumes }, live);
  });

  it('clamps ACK and a resuming START to the highest seq sent; pushes queued while detached survive', () => {
    const h = attached();
    const events: SessionEvent[] = [
      { v: 1, type: 'started', sessionId: 'sess-1', openid: 'user-1', at: 1000 },
      { v: 1, type: 'attached', at: 1000, kind: 'new' },
    ];
    h.actor.on('events', (e) => events.push(...e.events));
    login(h); // seq 1: the hello answer
    for (let i = 0; i < 2; i++) h.push(notify(String(i)), 0, 0); // seqs 2, 3: sent
    h.send({ type: 'ACK', linkId: 1, seq: 1 });
    h.send({ type: 'DETACH', linkId: 1 });
    for (let i = 0; i < 3; i++) h.push(notify(`away${i}`), 0, 0); // seqs 4..6: never sent
    h.take();
    h.send({
      type: 'ATTACH',
      linkId: 2,
      connectionId: 'c2',
      msgId: 3,
      lastAckedSeq: Number.MAX_SAFE_INTEGER,
      isNew: false,
    });
    assert.deepEqual(h.reliableSeqs(h.frames()), [4, 5, 6]);
    const q = h.actor.getSnapshot().context.s.queue;
    assert.equal(q.lastAcked, 3);
    // An ACK above the highest seq sent: clamped; an older one: ignored.
    h.send({ type: 'ACK', linkId: 2, seq: 2 });
    h.send({ type: 'ACK', linkId: 2, seq: 1_000 });
    assert.equal(q.lastAcked, 6);
    h.push(notify('later'), 0, 0);
    assert.deepEqual(h.reliableSeqs(h.frames()), [7]);
    // What was recorded is the clamped value, and replays to the same state.
    assert.deepEqual(
      events.filter((e) => e.type === 'acked').map((e) => (e.type === 'acked' ? e.seq : 0)),
      [1, 3, 6],
    );
    const live = summarizeSession(h.actor.getSnapshot().context.s);
    assert.deepEqual(summarizeSession(replaySessionEvents(events, 10)), live);
  });
});
