/**
 * GatewayService.PushStream on a real gateway (docs/protocol.md section 8, "Streaming
 * pushes"): real QUIC clients through the SDK, PushClient.stream() as producer. Pushes on
 * one stream are accepted in stream order and answered by seq; per-push refusals do
 * not break the stream; push_id de-duplication holds within a stream; cancelling a
 * stream loses no push that was answered success.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import type { Gateway } from '../../src/gateway.js';
import { connectClient, login, notifyContents, startTestGateway, waitFor } from '../helpers/gateway.js';

const MAX_FRAME_BYTES = 4096;

describe('push stream', { timeout: 120_000 }, () => {
  let gw: Gateway;
  let producer: PushClient;
  const clients: GateClient[] = [];

  const connect = async (openid: string): Promise<{ client: GateClient; contents: string[] }> => {
    const client = await connectClient(gw, openid);
    clients.push(client);
    await login(client);
    return { client, contents: notifyContents(client) };
  };
  /** Unary push of a fresh marker, then wait until `contents` ends with it: everything before it has arrived. */
  const fence = async (openid: string, contents: string[], marker: string): Promise<string[]> => {
    const r = await producer.push({ targetType: 'openid', targetId: openid, content: marker });
    assert.equal(r.success, true, r.message);
    await waitFor(() => contents.includes(marker), 30_000, marker);
    return contents.slice(0, contents.indexOf(marker));
  };

  before(async () => {
    gw = await startTestGateway({ server: { maxFrameBytes: MAX_FRAME_BYTES } });
    producer = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
  });
  after(async () => {
    for (const c of clients) c.close();
    producer?.close();
    await gw?.close();
  });

  it('2,000 pushes on one stream arrive exactly once, in producer order', async () => {
    const { contents } = await connect('ps-order');
    const stream = producer.stream({ window: 128 });
    const sent = Array.from({ length: 2000 }, (_, i) => `o-${i}`);
    const answers = await Promise.all(
      sent.map((content) => stream.push({ targetType: 'openid', targetId: 'ps-order', content })),
    );
    await stream.close();
    for (const a of answers) assert.equal(a.success, true, a.message);
    // Accepted in stream order: the session's seqs follow the producer's.
    const seqs = answers.map((a) => Number(/accepted as seq (\d+)/.exec(a.message)?.[1]));
    for (let i = 1; i < seqs.length; i++) assert.equal(seqs[i], seqs[i - 1]! + 1, `seq after push ${i - 1}`);
    assert.deepEqual(await fence('ps-order', contents, 'o-end'), sent);
  });

  it('answers refusals by seq without breaking the stream', async () => {
    const { contents } = await connect('ps-errors');
    const stream = producer.stream({ window: 8 });
    const to = (content: string) => ({ targetType: 'openid', targetId: 'ps-errors', content });
    const [first, unknown, oversize, bad, last] = await Promise.all([
      stream.push(to('e-first')),
      stream.push({ targetType: 'openid', targetId: 'ps-nobody', content: 'lost' }),
      stream.push(to('x'.repeat(MAX_FRAME_BYTES))),
      stream.push({ targetType: 'nonsense', targetId: 'ps-errors', content: 'bad' }),
      stream.push(to('e-last')),
    ]);
    assert.equal(first!.success, true, first!.message);
    assert.deepEqual([unknown!.success, unknown!.errorCode], [false, 'SESSION_NOT_FOUND']);
    assert.deepEqual([oversize!.success, oversize!.errorCode], [false, 'PAYLOAD_TOO_LARGE']);
    assert.deepEqual([bad!.success, bad!.errorCode], [false, 'BAD_REQUEST']);
    assert.equal(last!.success, true, last!.message);
    const after = await stream.push(to('e-after'));
    assert.equal(after.success, true, after.message);
    await stream.close();
    assert.deepEqual(await fence('ps-errors', contents, 'e-end'), ['e-first', 'e-last', 'e-after']);
  });

  it('a push_id repeated on one stream is delivered once', async () => {
    const { contents } = await connect('ps-dedup');
    const stream = producer.stream({ window: 16 });
    const push = (content: string, pushId: string) =>
      stream.push({ targetType: 'openid', targetId: 'ps-dedup', content, pushId });
    // Both copies are on the wire before either is answered.
    const [a, b, c, d] = await Promise.all([
      push('d-1', 'id-1'),
      push('d-1', 'id-1'),
      push('d-2', 'id-2'),
      push('d-1 again', 'id-1'),
    ]);
    for (const r of [a, b, c, d]) assert.equal(r!.success, true, r!.message);
    // A repeat is answered as its first acceptance was.
    assert.equal(b!.message, a!.message);
    assert.equal(d!.message, a!.message);
    await stream.close();
    assert.deepEqual(await fence('ps-dedup', contents, 'd-end'), ['d-1', 'd-2']);
  });

  it('cancelling a stream mid-way loses no push answered success', async () => {
    const { contents } = await connect('ps-cancel');
    const stream = producer.stream({ window: 32 });
    const answered: number[] = [];
    const total = 1000;
    const settled = Array.from({ length: total }, (_, i) =>
      stream.push({ targetType: 'openid', targetId: 'ps-cancel', content: `c-${i}` }).then(
        (r) => {
          assert.equal(r.success, true, r.message);
          answered.push(i);
          if (answered.length === 300) stream.cancel();
        },
        () => undefined, // unanswered when cancelled: may or may not have been accepted
      ),
    );
    await Promise.all(settled);
    assert.ok(answered.length >= 300 && answered.length < total, `${answered.length} answered`);
    const delivered = await fence('ps-cancel', contents, 'c-end');
    const index = delivered.map((c) => Number(c.slice(2)));
    // Exactly once and in order: strictly increasing; and every answered push is there.
    for (let i = 1; i < index.length; i++) assert.ok(index[i]! > index[i - 1]!, `order at ${i}`);
    const got = new Set(index);
    for (const i of answered) assert.ok(got.has(i), `answered push c-${i} not delivered`);
  });
});
