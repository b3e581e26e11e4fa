/**
 * v1.1 push rules on a real gateway (QUIC clients, gRPC GatewayService, demo
 * upstreams): push_id de-duplication for unicast, batch and broadcast, oversize
 * pushes refused with PAYLOAD_TOO_LARGE, oversize upstream answers replaced by
 * ERROR 502. "Nothing else arrived" is shown by a marker push that must be the
 * very next notify (pushes to one session keep their order).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import { GateError } from '../../src/errors.js';
import type { Gateway } from '../../src/gateway.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import type { UnicastPushResponse } from '../../src/protocol/messages.js';
import {
  connectClient,
  login,
  receivesOnce as receivesOnceHelper,
  startTestGateway,
} from '../helpers/gateway.js';

const MAX_FRAME_BYTES = 2048;

describe('idempotent and size-checked pushes', { timeout: 60_000 }, () => {
  let gw: Gateway;
  let pusher: PushClient;
  let alice: GateClient;
  let bob: GateClient;
  const clients: GateClient[] = [];

  const connect = async (openid: string) => {
    const c = await connectClient(gw, openid);
    clients.push(c);
    openids.set(c, openid);
    await login(c, '1');
    return c;
  };

  /** The next notify of `c` is `content`, and the one after it is a fresh marker. */
  const openids = new Map<GateClient, string>();
  const receivesOnce = (c: GateClient, content: string, marker: string) =>
    receivesOnceHelper(c, pusher, openids.get(c)!, content, marker);

  before(async () => {
    gw = await startTestGateway({ server: { maxFrameBytes: MAX_FRAME_BYTES } });
    pusher = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
    alice = await connect('alice');
    bob = await connect('bob');
  });

  after(async () => {
    for (const c of clients) c.close();
    pusher?.close();
    await gw?.close();
  });

  it('a push over max_frame_bytes is PAYLOAD_TOO_LARGE; the next push is delivered', async () => {
    const big = await pusher.push({
      targetType: 'openid',
      targetId: 'alice',
      content: 'x'.repeat(MAX_FRAME_BYTES),
      pushId: 'big-1',
    });
    assert.equal(big.success, false);
    assert.equal(big.errorCode, 'PAYLOAD_TOO_LARGE');
    // Nothing was accepted, so the same push id with a smaller body is delivered.
    const small = await pusher.push({
      targetType: 'openid',
      targetId: 'alice',
      content: 'small',
      pushId: 'big-1',
    });
    assert.equal(small.success, true, small.message);
    await receivesOnce(alice, 'small', 'after-big');

    // Batch: refused per target; broadcast: skipped.
    const batch = await pusher.batch({
      targets: [{ targetType: 'openid', targetId: 'bob' }],
      content: 'y'.repeat(MAX_FRAME_BYTES),
    });
    assert.equal(batch.successCount, 0);
    assert.match(batch.results[0]!.errorMessage, /^PAYLOAD_TOO_LARGE/);
    const bc = await pusher.broadcast({ content: 'z'.repeat(MAX_FRAME_BYTES) });
    assert.equal(bc.deliveredCount, 0);
  });

  it('an upstream answer over max_frame_bytes reaches the client as ERROR 502', async () => {
    await assert.rejects(
      alice.request('big', { bytes: String(MAX_FRAME_BYTES * 2) }),
      (err: unknown) =>
        err instanceof GateError &&
        err.code === ErrorCode.UPSTREAM_ERROR &&
        err.message === 'upstream answer too large',
    );
    const echo = await alice.request('echo', {}, new TextEncoder().encode('still fine'));
    assert.equal(echo.code, 0);
  });

  it('a unicast push repeated with the same push_id is delivered once and answered with the same seq', async () => {
    const req = { targetType: 'openid', targetId: 'alice', content: 'once', pushId: 'u-1' };
    const first = await pusher.push(req);
    assert.equal(first.success, true, first.message);
    assert.match(first.message, /^accepted as seq \d+$/);
    const again = await pusher.push({ ...req, content: 'changed' });
    assert.deepEqual(again, first);
    await receivesOnce(alice, 'once', 'marker-u');
  });

  it('a push_id is one push across PushToClient and PushStream, and within one stream', async () => {
    const req = { targetType: 'openid', targetId: 'alice', content: 'cross', pushId: 's-1' };
    const first = await pusher.push(req);
    assert.equal(first.success, true, first.message);
    const stream = pusher.stream({ window: 8 });
    // Repeats on the stream, written before either is answered, plus a new id after them.
    const [again, twice, fresh] = await Promise.all([
      stream.push({ ...req, content: 'changed' }),
      stream.push(req),
      stream.push({ ...req, content: 'fresh', pushId: 's-2' }),
    ]);
    await stream.close();
    const fields = (r: UnicastPushResponse) => [r.success, r.message, r.errorCode];
    assert.deepEqual(fields(again!), fields(first));
    assert.deepEqual(fields(twice!), fields(first));
    assert.equal(fresh!.success, true, fresh!.message);
    assert.equal((await alice.nextNotify()).content, 'cross');
    await receivesOnce(alice, 'fresh', 'marker-s');
  });

  it('a batch repeated with the same push_id reaches each target once', async () => {
    const req = {
      targets: [
        { targetType: 'openid', targetId: 'alice' },
        { targetType: 'openid', targetId: 'bob' },
        { targetType: 'openid', targetId: 'nobody' },
      ],
      content: 'batch-once',
      pushId: 'b-1',
    };
    const first = await pusher.batch(req);
    assert.equal(first.successCount, 2);
    assert.match(first.results[2]!.errorMessage, /^SESSION_NOT_FOUND/);
    const again = await pusher.batch(req);
    assert.equal(again.successCount, 2);
    await receivesOnce(alice, 'batch-once', 'marker-b-alice');
    await receivesOnce(bob, 'batch-once', 'marker-b-bob');
  });

  it('a repeated broadcast reaches only sessions that did not accept the first', async () => {
    const first = await pusher.broadcast({ content: 'bc-once', pushId: 'c-1' });
    assert.equal(first.deliveredCount, 2);
    const carol = await connect('carol');
    const again = await pusher.broadcast({ content: 'bc-once', pushId: 'c-1' });
    assert.equal(again.success, true);
    assert.equal(again.deliveredCount, 3);
    await receivesOnce(carol, 'bc-once', 'marker-c-carol');
    await receivesOnce(alice, 'bc-once', 'marker-c-alice');
    await receivesOnce(bob, 'bc-once', 'marker-c-bob');
  });

  it('a push_id over 128 bytes is BAD_REQUEST everywhere', async () => {
    const pushId = 'p'.repeat(129);
    const u = await pusher.push({ targetType: 'openid', targetId: 'alice', content: 'no', pushId });
    assert.equal(u.errorCode, 'BAD_REQUEST');
    const b = await pusher.batch({ targets: [{ targetType: 'openid', targetId: 'alice' }], pushId });
    assert.equal(b.successCount, 0);
    assert.match(b.results[0]!.errorMessage, /^BAD_REQUEST: push_id/);
    const bc = await pusher.broadcast({ content: 'no', pushId });
    assert.equal(bc.success, false);
    assert.match(bc.message, /^BAD_REQUEST: push_id/);
    // 128 bytes is fine.
    const ok = await pusher.push({
      targetType: 'openid',
      targetId: 'alice',
      content: 'max-id',
      pushId: 'p'.repeat(128),
    });
    assert.equal(ok.success, true, ok.message);
    await receivesOnce(alice, 'max-id', 'marker-max-id');
  });
});
