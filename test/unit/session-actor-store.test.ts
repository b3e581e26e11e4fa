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
import type { PushResult } from '../../src/machines/session-machine.js';
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
