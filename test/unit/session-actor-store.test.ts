/**
 * The session actor's durability barrier with an event log whose appends the
 * test settles: nothing after a store (frames, producer answers, upstream
 * calls) happens before it is durable; a refused store answers producers
 * UNAVAILABLE, sends no frame and closes the link 0x12; a slow store answers
 * everyone now and delivers the frames once it goes through.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Clock, EventLog, SessionLink } from '../../src/actors/ports.js';
import { SessionActor } from '../../src/actors/session-actor.js';
import { StoreError } from '../../src/errors.js';
import { createRoutingTable } from '../../src/machines/routing.js';
import type { PushResult, SessionOutput } from '../../src/machines/session-machine.js';
import type { SessionEvent } from '../../src/machines/session-state.js';
import { CloseCode, ErrorCode, NotifySyncHint, PushType } from '../../src/protocol/codes.js';
import { ErrorMessage, NotifyMessage } from '../../src/protocol/messages.js';
import { decodeFrame, testConfig } from '../helpers/session-harness.js';

const clock: Clock = { now: () => 1_000, setTimer: () => 0, clearTimer: () => {} };

interface Pending {
  events: readonly SessionEvent[];
  resolve(): void;
  reject(err: unknown): void;
}

/** Every append waits until the test resolves or rejects it. */
class ControlledLog implements EventLog {
  readonly pending: Pending[] = [];
  append(_id: string, events: readonly SessionEvent[]): Promise<void> {
    return new Promise((resolve, reject) => this.pending.push({ events, resolve, reject }));
  }
  forget(): void {}
  next(): Pending {
    const p = this.pending.shift();
    assert.ok(p, 'an append is waiting');
    return p;
  }
}

const turn = () => new Promise((r) => setImmediate(r));

function setup() {
  const log = new ControlledLog();
  const routing = createRoutingTable();
  const upstreamCalls: string[] = [];
  const failed: unknown[] = [];
  const actor = new SessionActor('sess-1', 'user-1', {
    config: testConfig,
    route: (a) => routing.serviceFor(a),
    upstream: {
      call: (_s, req) => {
        upstreamCalls.push(req.action);
        return new Promise(() => {});
      },
    },
    upstreamTimeoutMs: 1_000,
    log,
    clock,
    onEnded: () => {},
    onFailed: (_a, err) => failed.push(err),
  });
  const frames: Uint8Array[] = [];
  const closes: number[] = [];
  const link: SessionLink = {
    id: 1,
    connectionId: 'c1',
    send: (f) => frames.push(...f),
    close: (code) => closes.push(code),
  };
  return { log, actor, frames, closes, link, upstreamCalls, failed };
}

/** A started, attached session with every store so far durable. */
async function attached() {
  const t = setup();
  t.log.next().resolve(); // started
  await turn();
  t.actor.attach(t.link, 1, 0, true);
  t.log.next().resolve(); // attached
  await turn();
  assert.equal(decodeFrame(t.frames.shift()!).type, PushType.START_RESP);
  return t;
}

const notify = (content: string) => NotifyMessage.encode({ msgType: 't', content });

describe('session actor: durability barrier', () => {
  it('a push is answered and sent only once its event is stored', async () => {
    const t = await attached();
    let answer: PushResult | undefined;
    void t.actor.push(notify('a'), NotifySyncHint.IMMEDIATELY, 0).then((r) => (answer = r));
    await turn();
    assert.equal(answer, undefined);
    assert.equal(t.frames.length, 0);
    t.log.next().resolve();
    await turn();
    assert.deepEqual(answer, { ok: true, seq: 1 });
    assert.equal(decodeFrame(t.frames[0]!).seqId, 1);
  });

  it('a refused store: producers UNAVAILABLE, no frame, no upstream call, link closed 0x12', async () => {
    const t = await attached();
    const answers: PushResult[] = [];
    void t.actor.push(notify('a'), NotifySyncHint.IMMEDIATELY, 0).then((r) => answers.push(r));
    await turn();
    // A request and a second push arrive while the first store is in flight.
    t.actor.send({
      type: 'BUSINESS',
      linkId: 1,
      msgId: 7,
      seq: 1,
      action: 'hello',
      params: {},
      data: new Uint8Array(),
      headers: {},
    });
    void t.actor.push(notify('b'), NotifySyncHint.IMMEDIATELY, 0).then((r) => answers.push(r));
    await turn();
    t.log.next().reject(new StoreError('FENCED', 'written by another gateway'));
    await turn();
    assert.deepEqual(
      answers.map((a) => a.ok || a.errorCode),
      ['UNAVAILABLE', 'UNAVAILABLE'],
    );
    assert.deepEqual(t.upstreamCalls, []);
    assert.ok(
      t.frames.every((f) => decodeFrame(f).seqId === 0),
      'no reliable frame left',
    );
    assert.deepEqual(t.closes, [CloseCode.SERVER_SHUTDOWN]);
    assert.equal(t.failed.length, 1);
    assert.equal(t.actor.isFailed, true);
  });

  it('a slow store: producers UNAVAILABLE and requests ERROR 503 now; frames once stored; the request is closed with a stored 503', async () => {
    const t = await attached();
    const answers: PushResult[] = [];
    void t.actor.push(notify('a'), NotifySyncHint.IMMEDIATELY, 0).then((r) => answers.push(r));
    await turn();
    t.actor.send({
      type: 'BUSINESS',
      linkId: 1,
      msgId: 7,
      seq: 1,
      action: 'hello',
      params: {},
      data: new Uint8Array(),
      headers: {},
    });
    await turn();
    let finish!: () => void;
    const later = new Promise<void>((r) => {
      finish = r;
    });
    t.log.next().reject(new StoreError('STORE_TIMEOUT', 'slow', { later }));
    await turn();
    assert.deepEqual(
      answers.map((a) => a.ok || a.errorCode),
      ['UNAVAILABLE'],
    );
    assert.equal(t.frames.length, 1, 'only the control answer to the request');
    const ctl = decodeFrame(t.frames.shift()!);
    assert.equal(ctl.seqId, 0);
    assert.equal(ctl.msgId, 7);
    assert.equal(ErrorMessage.decode(ctl.payload).errorCode, ErrorCode.UPSTREAM_UNAVAILABLE);
    assert.deepEqual(t.closes, [], 'the session stays');

    // Heartbeats are answered while the store is still slow (control frames do not wait).
    t.actor.send({ type: 'HEARTBEAT', linkId: 1, msgId: 9, clientTimestamp: 5 });
    assert.equal(decodeFrame(t.frames.shift()!).type, PushType.HEARTBEAT_RESP);

    finish();
    await turn();
    // The merged store of the request's events goes out once the first is through.
    while (t.log.pending.length > 0) {
      t.log.next().resolve();
      await turn();
    }
    assert.deepEqual(t.upstreamCalls, [], 'never forwarded late');
    const reliable = t.frames.map(decodeFrame).filter((p) => p.seqId > 0);
    assert.deepEqual(
      reliable.map((p) => [p.seqId, p.type]),
      [
        [1, PushType.NOTIFY],
        [2, PushType.ERROR],
      ],
    );
    assert.equal(ErrorMessage.decode(reliable[1]!.payload).errorCode, ErrorCode.UPSTREAM_UNAVAILABLE);
  });
});

/** A clock the test moves by hand; timers fire only in `advance`. */
class FakeClock implements Clock {
  t = 1_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  now = () => this.t;
  setTimer = (delayMs: number, fn: () => void) => {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + Math.max(0, delayMs), fn });
    return id;
  };
  clearTimer = (handle: unknown) => {
    this.timers.delete(handle as number);
  };
  /** Moves time forward, firing each timer that comes due, earliest first. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let due: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= end && (!due || entry[1].at < due[1].at)) due = entry;
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
}

function observed(clock: Clock) {
  const log = new ControlledLog();
  const routing = createRoutingTable();
  const outputs: SessionOutput[] = [];
  const actor = new SessionActor('sess-2', 'user-2', {
    config: testConfig,
    route: (a) => routing.serviceFor(a),
    upstream: { call: () => new Promise(() => {}) },
    upstreamTimeoutMs: 1_000,
    log,
    clock,
    onEnded: () => {},
    observe: (_a, o) => outputs.push(o),
  });
  const frames: Uint8Array[] = [];
  const link: SessionLink = { id: 1, connectionId: 'c1', send: (f) => frames.push(...f), close: () => {} };
  return { log, actor, outputs, frames, link };
}

describe('session actor: appends and facts', () => {
  it('stores waiting behind a slow append are merged into one append, and each answer waits for its own', async () => {
    const t = await attached();
    const answers: PushResult[] = [];
    for (const c of ['a', 'b', 'c']) {
      void t.actor.push(notify(c), NotifySyncHint.IMMEDIATELY, 0).then((r) => answers.push(r));
      await turn(); // one turn each: three separate machine steps, three appends
    }
    assert.equal(t.log.pending.length, 1, 'later appends wait behind the first');
    t.log.next().resolve();
    await turn();
    assert.deepEqual(answers, [{ ok: true, seq: 1 }], 'only the first push is durable');
    assert.deepEqual(
      t.frames.map(decodeFrame).map((p) => p.seqId),
      [1],
    );
    const merged = t.log.next();
    assert.deepEqual(
      merged.events.map((e) => (e.type === 'pushed' ? e.seq : e.type)),
      [2, 3],
      'the two waiting stores went out as one append',
    );
    assert.equal(t.log.pending.length, 0);
    merged.resolve();
    await turn();
    assert.deepEqual(
      answers.map((a) => a.ok && a.seq),
      [1, 2, 3],
    );
    assert.deepEqual(
      t.frames.map(decodeFrame).map((p) => p.seqId),
      [1, 2, 3],
    );
  });

  it('after a failed store, producers get answers at once and nothing more is stored', async () => {
    const t = await attached();
    const answers: PushResult[] = [];
    void t.actor.push(notify('a'), NotifySyncHint.IMMEDIATELY, 0).then((r) => answers.push(r));
    await turn();
    t.log.next().reject(new StoreError('FENCED', 'written by another gateway'));
    await turn();
    assert.deepEqual(
      answers.map((a) => a.ok || a.errorCode),
      ['UNAVAILABLE'],
    );
    const late = await t.actor.push(notify('b'), NotifySyncHint.IMMEDIATELY, 0);
    assert.equal(late.ok || late.errorCode, 'SESSION_NOT_FOUND');
    t.actor.send({ type: 'HEARTBEAT', linkId: 1, msgId: 3, clientTimestamp: 1 });
    await turn();
    assert.equal(t.log.pending.length, 0, 'no append after the failure');
    assert.ok(t.frames.every((f) => decodeFrame(f).seqId === 0));
  });

  it('facts: accepted, sent, resent after ack_timeout, acked with its round trip, on the fake clock', async () => {
    const clock = new FakeClock();
    const t = observed(clock);
    t.log.next().resolve(); // started
    await turn();
    t.actor.attach(t.link, 1, 0, true);
    t.log.next().resolve(); // attached
    await turn();
    assert.ok(t.outputs.some((o) => o.type === 'attached' && o.linkId === 1 && o.kind === 'new'));

    void t.actor.push(notify('a'), NotifySyncHint.IMMEDIATELY, 0);
    await turn();
    t.log.next().resolve();
    await turn();
    assert.ok(t.outputs.some((o) => o.type === 'accepted' && o.seq === 1 && o.kind === 'notify'));
    const sends = () => t.outputs.filter((o) => o.type === 'send' && o.seqs.includes(1));
    assert.deepEqual(
      sends().map((o) => o.type === 'send' && o.retransmit),
      [false],
    );

    // Nothing acknowledged within ack_timeout: the timer armed from the machine's deadline resends it.
    clock.advance(testConfig.ackTimeoutMs);
    assert.deepEqual(
      sends().map((o) => o.type === 'send' && o.retransmit),
      [false, true],
    );
    assert.deepEqual(t.frames.map(decodeFrame).filter((p) => p.seqId === 1).length, 2);

    // An ACK of a resent push gives no round trip (Karn); a push sent once does.
    void t.actor.push(notify('b'), NotifySyncHint.IMMEDIATELY, 0);
    await turn();
    t.log.next().resolve();
    await turn();
    clock.advance(40);
    t.actor.send({ type: 'ACK', linkId: 1, seq: 1 });
    t.actor.send({ type: 'ACK', linkId: 1, seq: 2 });
    const acks = t.outputs.filter((o) => o.type === 'acked');
    assert.deepEqual(
      acks.map((o) => o.type === 'acked' && [o.seq, o.roundTripMs]),
      [
        [1, null],
        [2, 40],
      ],
    );
    t.actor.dispose();
  });
});
