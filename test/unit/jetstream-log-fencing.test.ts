/**
 * The JetStream event log's fencing, bounded records and slow stores
 * (docs/protocol.md section 8, "Session events"), against a fake stream that
 * keeps JetStream's rules: Nats-Msg-Id de-duplication first, then
 * Nats-Expected-Last-Subject-Sequence, then Nats-Rollup; max_payload.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JetStreamClient, JetStreamManager, MsgHdrs } from 'nats';
import { SessionFold } from '../../src/actors/failover.js';
import { isStoreError, JS_WRONG_LAST_SEQUENCE, type StoreError } from '../../src/errors.js';
import {
  replaySessionEvents,
  type SessionEvent,
  type SessionState,
  summarizeSession,
} from '../../src/machines/session-state.js';
import { decodeEventRecord } from '../../src/transport/nats/event-codec.js';
import { JetStreamEventLog } from '../../src/transport/nats/jetstream-log.js';
import { natsNames } from '../../src/transport/nats/subjects.js';

interface Stored {
  seq: number;
  subject: string;
  msgId: string;
  data: Uint8Array;
}

class FakeStream {
  msgs: Stored[] = [];
  private seq = 0;
  /** Msg ids inside the duplicate window. */
  readonly seen = new Map<string, number>();
  /** Publishes fail (NATS down) while set. */
  down = false;
  /** The next publish is stored but its ack is lost. */
  loseNextAck = false;
  published = 0;
  constructor(readonly maxPayload: number) {}

  lastOn(subject: string): Stored | undefined {
    for (let i = this.msgs.length - 1; i >= 0; i--)
      if (this.msgs[i]!.subject === subject) return this.msgs[i];
    return undefined;
  }

  /** Another gateway writes the subject. */
  foreignWrite(subject: string): void {
    this.msgs.push({ seq: ++this.seq, subject, msgId: 'other', data: new Uint8Array() });
  }

  publish(subject: string, data: Uint8Array, h: MsgHdrs): { seq: number; duplicate: boolean } {
    this.published++;
    if (this.down) throw new Error('TIMEOUT');
    if (data.length > this.maxPayload)
      throw Object.assign(new Error('MAX_PAYLOAD_EXCEEDED'), { code: 'MAX_PAYLOAD_EXCEEDED' });
    const msgId = h.get('Nats-Msg-Id');
    const dup = this.seen.get(msgId);
    if (dup !== undefined) return { seq: dup, duplicate: true };
    const expected = h.get('Nats-Expected-Last-Subject-Sequence');
    const last = this.lastOn(subject)?.seq ?? 0;
    if (expected !== '' && Number(expected) !== last) {
      throw Object.assign(new Error('wrong last sequence'), {
        api_error: {
          code: 400,
          err_code: JS_WRONG_LAST_SEQUENCE,
          description: `wrong last sequence: ${last}`,
        },
      });
    }
    if (h.get('Nats-Rollup') === 'sub') this.msgs = this.msgs.filter((m) => m.subject !== subject);
    const m = { seq: ++this.seq, subject, msgId, data };
    this.msgs.push(m);
    this.seen.set(msgId, m.seq);
    if (this.loseNextAck) {
      this.loseNextAck = false;
      throw new Error('TIMEOUT');
    }
    return { seq: m.seq, duplicate: false };
  }

  /** The session's records in stream order. */
  records(subject: string): Stored[] {
    return this.msgs.filter((m) => m.subject === subject);
  }

  js(): JetStreamClient {
    return {
      publish: async (subject: string, data: Uint8Array, opts: { headers: MsgHdrs }) =>
        this.publish(subject, data, opts.headers),
    } as unknown as JetStreamClient;
  }

  jsm(): JetStreamManager {
    return {
      streams: {
        getMessage: async (_s: string, q: { last_by_subj: string }) => {
          const m = this.lastOn(q.last_by_subj);
          if (!m) throw Object.assign(new Error('no message found'), { code: '404' });
          return { seq: m.seq, header: { get: (k: string) => (k === 'Nats-Msg-Id' ? m.msgId : '') } };
        },
        purge: async (_s: string, q: { filter: string; seq: number }) => {
          this.msgs = this.msgs.filter((m) => m.subject !== q.filter || m.seq >= q.seq);
        },
      },
    } as unknown as JetStreamManager;
  }
}

const names = natsNames('gatesvr', 'GATESVR');
const ID = 'sess-1';
const SUBJECT = names.events(ID);
const started: SessionEvent = { v: 1, type: 'started', sessionId: ID, openid: 'u', at: 1 };
const frame = (n: number) => new Uint8Array(n).fill(7);

function newLog(stream: FakeStream, opts: { mayWrite?: () => boolean; storeTimeoutMs?: number } = {}) {
  const failed: StoreError[] = [];
  let live: SessionState | undefined;
  const log = new JetStreamEventLog({
    js: stream.js(),
    jsm: stream.jsm(),
    names,
    maxPayload: stream.maxPayload,
    storeTimeoutMs: opts.storeTimeoutMs ?? 60_000,
    ...(opts.mayWrite ? { mayWrite: opts.mayWrite } : {}),
    onFailed: (_id, err) => failed.push(err),
  });
  log.bindStates(() => live);
  return { log, failed, setLive: (s: SessionState) => (live = s) };
}

describe('JetStream event log: fencing', () => {
  it('a write by another gateway in between fails the append (FENCED) and every later one', async () => {
    const stream = new FakeStream(1 << 20);
    const { log, failed } = newLog(stream);
    await log.append(ID, [started]);
    await log.append(ID, [{ v: 1, type: 'logged_in', zone: 1, at: 2 }]);
    stream.foreignWrite(SUBJECT);
    await assert.rejects(
      Promise.resolve(log.append(ID, [{ v: 1, type: 'pushed', seq: 1, frame: frame(4), answers: 0 }])),
      (err: unknown) => isStoreError(err, 'FENCED'),
    );
    await assert.rejects(
      Promise.resolve(log.append(ID, [{ v: 1, type: 'pushed', seq: 2, frame: frame(4), answers: 0 }])),
      (err: unknown) => isStoreError(err, 'FENCED'),
    );
    assert.equal(failed.length, 1, 'the owner hears once');
    assert.equal(
      stream.records(SUBJECT).at(-1)!.msgId,
      'other',
      'nothing of ours stored after the foreign write',
    );
  });

  it('not even attempted once the lease may have lapsed', async () => {
    const stream = new FakeStream(1 << 20);
    let leaseValid = true;
    const { log } = newLog(stream, { mayWrite: () => leaseValid });
    await log.append(ID, [started]);
    const before = stream.published;
    leaseValid = false;
    await assert.rejects(
      Promise.resolve(log.append(ID, [{ v: 1, type: 'logged_in', zone: 1, at: 2 }])),
      (err: unknown) => isStoreError(err, 'FENCED'),
    );
    assert.equal(stream.published, before);
  });

  it('a retry whose first attempt was stored (ack lost, past the duplicate window) is stored once', async () => {
    const stream = new FakeStream(1 << 20);
    const { log, failed } = newLog(stream);
    await log.append(ID, [started]);
    stream.loseNextAck = true;
    const stored = log.append(ID, [{ v: 1, type: 'logged_in', zone: 1, at: 2 }]);
    // The duplicate window passes before the retry: only the fence and the last message tell.
    stream.seen.clear();
    await stored;
    assert.equal(stream.records(SUBJECT).length, 2);
    assert.equal(failed.length, 0);
    await log.append(ID, [{ v: 1, type: 'logged_in', zone: 2, at: 3 }]);
    assert.equal(stream.records(SUBJECT).length, 3, 'the fence moved to the recognised message');
  });

  it('an adopted session is fenced on the seq it was rebuilt from', async () => {
    const stream = new FakeStream(1 << 20);
    const a = newLog(stream);
    await a.log.append(ID, [started]);
    const rebuiltAt = stream.lastOn(SUBJECT)!.seq;
    const b = newLog(stream);
    b.log.adopt(ID, rebuiltAt);
    // The old holder writes after the rebuild read the log: the new holder's write is refused.
    await a.log.append(ID, [{ v: 1, type: 'logged_in', zone: 1, at: 2 }]);
    await assert.rejects(
      Promise.resolve(b.log.append(ID, [{ v: 1, type: 'logged_in', zone: 9, at: 3 }])),
      (err: unknown) => isStoreError(err, 'FENCED'),
    );
  });
});

describe('JetStream event log: bounded records', () => {
  it('an append too large for one message goes out as several, each within max_payload', async () => {
    const stream = new FakeStream(16 * 1024);
    const { log } = newLog(stream);
    await log.append(ID, [started]);
    const pushes: SessionEvent[] = Array.from({ length: 40 }, (_, i) => ({
      v: 1,
      type: 'pushed',
      seq: i + 1,
      frame: frame(1_000),
      answers: 0,
    }));
    await log.append(ID, pushes);
    const recs = stream.records(SUBJECT);
    assert.ok(recs.length > 2, `split into ${recs.length - 1} messages`);
    for (const r of recs) assert.ok(r.data.length <= stream.maxPayload);
    const fold = new SessionFold(1000);
    for (const r of recs) fold.apply(ID, decodeEventRecord(r.data));
    assert.equal(summarizeSession(fold.get(ID)!).pending, 40);
  });

  it('a snapshot too large for one message is stored in parts that replay to the live state', async () => {
    const stream = new FakeStream(16 * 1024);
    const { log, setLive } = newLog(stream);
    const events: SessionEvent[] = [started, { v: 1, type: 'logged_in', zone: 3, at: 2 }];
    for (let i = 1; i <= 60; i++)
      events.push({ v: 1, type: 'pushed', seq: i, frame: frame(1_000), answers: 0 });
    events.push({ v: 1, type: 'acked', seq: 5 });
    const live = replaySessionEvents(events, 1000);
    setLive(live);
    // This process's first append of the session is a snapshot of the live state.
    stream.foreignWrite(SUBJECT); // what an earlier holder stored
    log.adopt(ID, stream.lastOn(SUBJECT)!.seq);
    log.append(ID, [{ v: 1, type: 'acked', seq: 5 }]);
    await log.settled(ID); // an ACK alone is stored without the actor waiting
    const recs = stream.records(SUBJECT);
    assert.ok(recs.length > 1, 'several parts');
    assert.ok(
      recs.every((r) => r.msgId !== 'other'),
      'what preceded the first part was purged',
    );
    for (const r of recs) {
      assert.ok(r.data.length <= stream.maxPayload);
      assert.ok(decodeEventRecord(r.data).part, 'every record is a part');
    }
    const fold = new SessionFold(1000);
    for (const r of recs) fold.apply(ID, decodeEventRecord(r.data));
    assert.deepEqual(summarizeSession(fold.get(ID)!), summarizeSession(live));
  });

  it('unfinished parts are ignored: the state before them stands', () => {
    const fold = new SessionFold(1000);
    fold.apply(ID, { snapshot: false, events: [started, { v: 1, type: 'logged_in', zone: 4, at: 2 }] });
    fold.apply(ID, {
      snapshot: false,
      part: { id: 'x', k: 0, n: 2 },
      events: [{ ...started, openid: 'changed' }],
    });
    assert.equal(fold.get(ID)!.openid, 'u');
    fold.apply(ID, { snapshot: false, events: [{ v: 1, type: 'acked', seq: 0 }] });
    assert.equal(fold.get(ID)!.zone, 4);
    assert.equal(fold.get(ID)!.openid, 'u');
  });

  it('one event larger than a record fails with RECORD_TOO_LARGE and nothing is stored', async () => {
    const stream = new FakeStream(8 * 1024);
    const { log } = newLog(stream);
    await log.append(ID, [started]);
    await assert.rejects(
      Promise.resolve(log.append(ID, [{ v: 1, type: 'pushed', seq: 1, frame: frame(20_000), answers: 0 }])),
      (err: unknown) => isStoreError(err, 'RECORD_TOO_LARGE'),
    );
    assert.equal(stream.records(SUBJECT).length, 1);
    assert.ok(log.maxFrameBytes * (4 / 3) < log.maxRecordBytes, 'the clamp on push frames fits one record');
  });
});

describe('JetStream event log: slow stores', () => {
  it('waiters get STORE_TIMEOUT; the store goes on and `later` settles once it is stored', async () => {
    const stream = new FakeStream(1 << 20);
    const { log, failed } = newLog(stream, { storeTimeoutMs: 20 });
    await log.append(ID, [started]);
    stream.down = true;
    const err = await Promise.resolve(log.append(ID, [{ v: 1, type: 'logged_in', zone: 1, at: 2 }])).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(isStoreError(err, 'STORE_TIMEOUT'), String(err));
    assert.ok(err.later);
    assert.equal(log.available(), false);
    stream.down = false;
    await err.later;
    assert.equal(stream.records(SUBJECT).length, 2, 'stored once');
    assert.equal(failed.length, 0);
    assert.equal(log.available(), true);
  });
});
