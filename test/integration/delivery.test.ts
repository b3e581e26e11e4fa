/**
 * Reliable ordered delivery over real QUIC and the real GatewayService gRPC API
 * (docs/protocol.md sections 3, 4 and 5): seqs, ACK, retransmission, resume,
 * takeover, expiry, notify binding, duplicates, QUEUE_FULL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import { CloseCode, ErrorCode, NotifySyncHint, PushType } from '../../src/protocol/codes.js';
import { ErrorMessage, NotifyMessage, type ServerPush, StartResponse } from '../../src/protocol/messages.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';

const content = (p: ServerPush) => NotifyMessage.decode(p.payload).content;

async function rawLogin(gw: Gateway, openid: string, zone = '1'): Promise<{ c: RawClient; session: string }> {
  const c = await RawClient.connect(gw);
  c.start(openid);
  const resp = StartResponse.decode((await c.next()).payload);
  c.business(1, 'hello', { zone });
  const answer = await c.next();
  assert.equal(answer.type, PushType.BUSINESS_DATA);
  c.ack(1);
  return { c, session: resp.sessionId };
}

describe('delivery', () => {
  let gw: Gateway;
  let push: PushClient;
  before(async () => {
    gw = await startTestGateway({
      server: { ackTimeoutMs: 200, maxRetries: 2, resumeWindowMs: 1500, maxQueue: 5 } as never,
    });
    push = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
  });
  after(async () => {
    push.close();
    await gw.close();
  });

  it('delivers pushes by openid and by session id as reliable NOTIFYs in seq order', async () => {
    const { c, session } = await rawLogin(gw, 'd-basic');
    const r1 = await push.push({
      targetType: 'openid',
      targetId: 'd-basic',
      msgType: 'm',
      title: 't',
      content: 'one',
    });
    assert.equal(r1.success, true);
    const r2 = await push.push({
      targetType: 'session',
      targetId: session,
      content: 'two',
      metadata: { k: 'v' },
    });
    assert.equal(r2.success, true);
    const a = await c.next();
    const b = await c.next();
    assert.deepEqual([a.type, a.seqId, content(a)], [PushType.NOTIFY, 2, 'one']);
    assert.deepEqual([b.type, b.seqId, content(b)], [PushType.NOTIFY, 3, 'two']);
    const n = NotifyMessage.decode(a.payload);
    assert.equal(n.msgType, 'm');
    assert.equal(n.title, 't');
    assert.equal(NotifyMessage.decode(b.payload).metadata.k, 'v');
    c.ack(3);
    c.close();
  });

  it('answers SESSION_NOT_FOUND and BAD_REQUEST to producers', async () => {
    const nf = await push.push({ targetType: 'openid', targetId: 'nobody-here', content: 'x' });
    assert.deepEqual([nf.success, nf.errorCode], [false, 'SESSION_NOT_FOUND']);
    const bad = await push.push({ targetType: 'user', targetId: 'x', content: 'x' });
    assert.deepEqual([bad.success, bad.errorCode], [false, 'BAD_REQUEST']);
  });

  it('batch pushes report per target, broadcasts reach NORMAL sessions (or one zone)', async () => {
    const a = await connectClient(gw, 'd-bc-a');
    await login(a, '7');
    const b = await connectClient(gw, 'd-bc-b');
    await login(b, '8');
    const inited = await connectClient(gw, 'd-bc-inited');
    const batch = await push.batch({
      targets: [
        { targetType: 'openid', targetId: 'd-bc-a' },
        { targetType: 'openid', targetId: 'missing-one' },
      ],
      content: 'batch',
    });
    assert.equal(batch.totalCount, 2);
    assert.equal(batch.successCount, 1);
    assert.equal((await a.nextNotify()).content, 'batch');

    const zoneOnly = await push.broadcast({ content: 'zone 8', zone: 8 });
    assert.equal(zoneOnly.deliveredCount, 1);
    const nb = await b.nextNotify();
    assert.equal(nb.content, 'zone 8');
    assert.equal(nb.broadcast, true);

    const all = await push.broadcast({ content: 'everyone' });
    assert.ok(all.deliveredCount >= 2);
    assert.equal((await a.nextNotify()).content, 'everyone');
    assert.equal((await b.nextNotify()).content, 'everyone');
    await assert.rejects(inited.nextNotify(300));
    await Promise.all([a.stop(), b.stop(), inited.stop()]);
  });

  it('retransmits with the same seq after ack_timeout, then closes 0x10 and keeps the session', async () => {
    const { c } = await rawLogin(gw, 'd-retx');
    await push.push({ targetType: 'openid', targetId: 'd-retx', content: 'again' });
    const first = await c.next();
    const second = await c.next();
    const third = await c.next();
    assert.deepEqual([first.seqId, second.seqId, third.seqId], [2, 2, 2]);
    const info = await c.closed();
    assert.equal(info.code, CloseCode.ACK_TIMEOUT);
    const actor = gw.system.findByOpenid('d-retx')!;
    await waitFor(() => !actor.state.attached, 5000, 'detached');
    assert.equal(actor.state.phase, 'normal');
    // Resume: the unacknowledged push comes again with its seq.
    const c2 = await RawClient.connect(gw);
    c2.start('d-retx', { lastAckedSeqId: 1 });
    const resp = StartResponse.decode((await c2.next()).payload);
    assert.equal(resp.resumed, true);
    assert.equal(resp.lastClientSeq, 1);
    const again = await c2.next();
    assert.deepEqual([again.seqId, content(again)], [2, 'again']);
    c2.ack(2);
    c2.close();
  });

  it('resume drops what the client acknowledged and resends the rest in order', async () => {
    const { c, session } = await rawLogin(gw, 'd-resume');
    for (const x of ['a', 'b', 'c', 'd'])
      await push.push({ targetType: 'openid', targetId: 'd-resume', content: x });
    for (let i = 0; i < 4; i++) await c.next();
    c.ack(3);
    c.close();
    await waitFor(() => gw.system.findByOpenid('d-resume')?.state.attached === false, 5000, 'detached');
    await push.push({ targetType: 'openid', targetId: 'd-resume', content: 'while away' });
    const c2 = await RawClient.connect(gw);
    c2.start('d-resume', { lastAckedSeqId: 3 });
    const resp = StartResponse.decode((await c2.next()).payload);
    assert.deepEqual([resp.resumed, resp.sessionId, resp.zone], [true, session, 1]);
    const got = [await c2.next(), await c2.next(), await c2.next()];
    assert.deepEqual(
      got.map((p) => [p.seqId, content(p)]),
      [
        [4, 'c'],
        [5, 'd'],
        [6, 'while away'],
      ],
    );
    c2.ack(6);
    c2.close();
  });

  it('takeover: a START elsewhere moves the session; the old connection gets 0x11', async () => {
    const { c: old, session } = await rawLogin(gw, 'd-takeover');
    const fresh = await RawClient.connect(gw);
    fresh.start('d-takeover', { lastAckedSeqId: 1 });
    const resp = StartResponse.decode((await fresh.next()).payload);
    assert.deepEqual([resp.resumed, resp.sessionId], [true, session]);
    assert.equal((await old.closed()).code, CloseCode.SESSION_TAKEN_OVER);
    await push.push({ targetType: 'openid', targetId: 'd-takeover', content: 'to the new device' });
    assert.equal(content(await fresh.next()), 'to the new device');
    fresh.close();
  });

  it('a session not resumed within resume_window expires; the next START is a new session', async () => {
    const { c, session } = await rawLogin(gw, 'd-expire');
    c.close();
    await waitFor(() => gw.system.findByOpenid('d-expire') === undefined, 10_000, 'session expired');
    const c2 = await RawClient.connect(gw);
    c2.start('d-expire', { lastAckedSeqId: 1 });
    const resp = StartResponse.decode((await c2.next()).payload);
    assert.equal(resp.resumed, false);
    assert.notEqual(resp.sessionId, session);
    assert.equal(resp.lastClientSeq, 0);
    c2.close();
  });

  it('binds notifies BEFORE and AFTER the answer of a slow request', async () => {
    const { c } = await rawLogin(gw, 'd-bind');
    c.business(2, 'sleep', { ms: '600' });
    await waitFor(
      () => (gw.system.findByOpenid('d-bind')?.state.inflight.size ?? 0) === 1,
      5000,
      'in flight',
    );
    const bind = (content: string, syncHint: number) =>
      push.push({ targetType: 'openid', targetId: 'd-bind', content, syncHint, bindClientSeqId: 2 });
    assert.equal((await bind('after', NotifySyncHint.AFTER_RESPONSE)).success, true);
    assert.equal((await bind('before', NotifySyncHint.BEFORE_RESPONSE)).success, true);
    assert.equal((await bind('now', NotifySyncHint.IMMEDIATELY)).success, true);
    const got: string[] = [];
    const seqs: number[] = [];
    for (let i = 0; i < 4; i++) {
      const p = await c.next();
      seqs.push(p.seqId);
      got.push(p.type === PushType.NOTIFY ? content(p) : `answer ${p.headers.client_seq}`);
      c.ack(p.seqId);
    }
    assert.deepEqual(got, ['now', 'before', 'answer 2', 'after']);
    assert.deepEqual(seqs, [2, 3, 4, 5]);
    // The answer has gone: a late bound notify is delivered at once.
    await bind('late', NotifySyncHint.BEFORE_RESPONSE);
    assert.equal(content(await c.next()), 'late');
    c.close();
  });

  it('never forwards a duplicate; answers 409 once the answer was acknowledged', async () => {
    const { c } = await rawLogin(gw, 'd-dup');
    const before = gw.demo!.received.filter((r) => r.request.openid === 'd-dup').length;
    c.business(2, 'echo', {}, 900, Buffer.from('x'));
    c.business(2, 'echo', {}, 901, Buffer.from('x'));
    const answer = await c.next();
    assert.deepEqual(
      [answer.type, answer.msgId, answer.headers.client_seq],
      [PushType.BUSINESS_DATA, 900, '2'],
    );
    const after = gw.demo!.received.filter((r) => r.request.openid === 'd-dup').length;
    assert.equal(after - before, 1);
    c.ack(answer.seqId);
    c.business(2, 'echo', {}, 902);
    const dup = await c.next();
    assert.equal(dup.type, PushType.ERROR);
    assert.equal(dup.headers.client_seq, '2');
    assert.equal(ErrorMessage.decode(dup.payload).errorCode, ErrorCode.DUPLICATE_REQUEST);
    c.ack(dup.seqId);
    c.close();
  });

  it('refuses pushes beyond max_queue with QUEUE_FULL and loses nothing accepted', async () => {
    const { c } = await rawLogin(gw, 'd-full');
    const results: string[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await push.push({ targetType: 'openid', targetId: 'd-full', content: `m${i}` });
      results.push(r.success ? 'ok' : r.errorCode);
    }
    assert.deepEqual(results, ['ok', 'ok', 'ok', 'ok', 'ok', 'QUEUE_FULL', 'QUEUE_FULL']);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) got.push(content(await c.next()));
    assert.deepEqual(got, ['m0', 'm1', 'm2', 'm3', 'm4']);
    c.ack(6);
    await waitFor(() => gw.system.findByOpenid('d-full')!.state.queue.size === 0, 5000, 'acked');
    assert.equal(
      (await push.push({ targetType: 'openid', targetId: 'd-full', content: 'room again' })).success,
      true,
    );
    assert.equal(content(await c.next()), 'room again');
    c.close();
  });

  it('takeover by a fresh SDK client: delivery starts at the first push the old device did not acknowledge', async () => {
    const first = await connectClient(gw, 'd-device');
    await login(first, '1');
    await push.push({ targetType: 'openid', targetId: 'd-device', content: 'seen on the first device' });
    assert.equal((await first.nextNotify()).content, 'seen on the first device');
    first.ackNow();
    await waitFor(
      () => gw.system.findByOpenid('d-device')?.state.queue.size === 0,
      5000,
      'the first device acknowledged everything',
    );
    // A fresh client knows none of the session's seqs: the resend starts above what the other device acked.
    const second = await connectClient(gw, 'd-device', { autoResume: false });
    assert.equal(second.resumed, true);
    for (const text of ['n1', 'n2'])
      await push.push({ targetType: 'openid', targetId: 'd-device', content: text });
    assert.deepEqual(
      [(await second.nextNotify()).content, (await second.nextNotify()).content],
      ['n1', 'n2'],
    );
    first.close();
    second.close();
  });
});
