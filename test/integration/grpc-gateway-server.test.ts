import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { UnavailableError } from '../../src/errors.js';
import {
  type BatchUnicastPushRequest,
  type BroadcastRequest,
  StreamPushRequest,
  type StreamPushResponse,
  type UnicastPushRequest,
} from '../../src/protocol/messages.js';
import { type PushApi, startGatewayServer } from '../../src/transport/grpc/gateway-server.js';
import { GatewayServiceClient, type UnaryMethod } from '../../src/transport/grpc/service-defs.js';

function unary<Req, Res>(method: UnaryMethod<Req, Res>, req: Partial<Req>): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(req, { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res!)));
  });
}

describe('gateway gRPC server', { timeout: 60_000 }, () => {
  const seen: {
    unicast: UnicastPushRequest[];
    batch: BatchUnicastPushRequest[];
    broadcast: BroadcastRequest[];
  } = {
    unicast: [],
    batch: [],
    broadcast: [],
  };
  let explode = false;
  const api: PushApi = {
    async pushToClient(req) {
      if (explode) throw new Error('kaboom');
      if (req.targetId === 'store-down') throw new UnavailableError('event log unavailable');
      seen.unicast.push(req);
      if (req.targetId === 'missing')
        return { success: false, message: 'no such', errorCode: 'SESSION_NOT_FOUND' };
      return { success: true, message: 'queued', errorCode: '' };
    },
    async batchPush(req) {
      if (explode) throw new Error('kaboom');
      seen.batch.push(req);
      const results = req.targets.map((t) => ({ ...t, success: t.targetId !== 'missing', errorMessage: '' }));
      return { successCount: results.filter((r) => r.success).length, totalCount: results.length, results };
    },
    broadcast(req) {
      if (explode) return Promise.reject(new Error('kaboom'));
      seen.broadcast.push(req);
      return Promise.resolve({ success: true, message: 'ok', deliveredCount: 3 });
    },
  };
  let server: Awaited<ReturnType<typeof startGatewayServer>>;
  let client: InstanceType<typeof GatewayServiceClient>;

  before(async () => {
    server = await startGatewayServer({ host: '127.0.0.1', port: 0 }, api);
    assert.ok(server.port > 0);
    client = new GatewayServiceClient(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  });
  after(async () => {
    client.close();
    await server.close();
  });

  const push = (req: Partial<UnicastPushRequest>) => unary(client.pushToClient.bind(client), req);
  const batch = (req: Partial<BatchUnicastPushRequest>) => unary(client.BatchPushToClients.bind(client), req);
  const broadcast = (req: Partial<BroadcastRequest>) => unary(client.broadcastToClients.bind(client), req);

  it('passes valid pushes to the api', async () => {
    const res = await push({
      targetType: 'openid',
      targetId: 'u1',
      msgType: 'mail',
      title: 't',
      content: 'c',
      data: new Uint8Array([1, 2]),
      metadata: { k: 'v' },
      syncHint: 1,
      bindClientSeqId: 9,
    });
    assert.deepEqual([res.success, res.message, res.errorCode], [true, 'queued', '']);
    const got = seen.unicast.at(-1)!;
    assert.equal(got.targetId, 'u1');
    assert.equal(got.syncHint, 1);
    assert.equal(got.bindClientSeqId, 9);
    assert.deepEqual({ ...got.metadata }, { k: 'v' });
    assert.deepEqual([...got.data], [1, 2]);
    const nf = await push({ targetType: 'session', targetId: 'missing' });
    assert.equal(nf.errorCode, 'SESSION_NOT_FOUND');

    const b = await broadcast({ msgType: 'news', zone: 2 });
    assert.equal(b.deliveredCount, 3);
    assert.equal(seen.broadcast.at(-1)!.zone, 2);
  });

  it('answers bad requests with BAD_REQUEST without calling the api', async () => {
    const before = seen.unicast.length;
    for (const req of [
      { targetType: 'user', targetId: 'u1' },
      { targetType: '', targetId: 'u1' },
      { targetType: 'openid', targetId: '' },
      { targetType: 'session', targetId: 's', syncHint: 3 },
    ]) {
      const res = await push(req);
      assert.equal(res.success, false);
      assert.equal(res.errorCode, 'BAD_REQUEST');
      assert.ok(res.message.length > 0);
    }
    assert.equal(seen.unicast.length, before);
    const b = await broadcast({ zone: -1 });
    assert.equal(b.success, false);
    assert.match(b.message, /^BAD_REQUEST/);
  });

  it('batch: invalid targets answered here, the rest by the api, in order', async () => {
    const res = await batch({
      msgType: 'm',
      targets: [
        { targetType: 'openid', targetId: 'a' },
        { targetType: 'nope', targetId: 'b' },
        { targetType: 'session', targetId: 'missing' },
        { targetType: 'openid', targetId: '' },
      ],
    });
    assert.equal(res.totalCount, 4);
    assert.equal(res.successCount, 1);
    assert.deepEqual(
      res.results.map((r) => [r.targetId, r.success]),
      [
        ['a', true],
        ['b', false],
        ['missing', false],
        ['', false],
      ],
    );
    assert.match(res.results[1]!.errorMessage, /^BAD_REQUEST/);
    assert.deepEqual(
      seen.batch.at(-1)!.targets.map((t) => t.targetId),
      ['a', 'missing'],
    );
    assert.equal(seen.batch.at(-1)!.msgType, 'm');
  });

  it('turns an api failure into INTERNAL and keeps serving', async () => {
    explode = true;
    try {
      for (const call of [
        () => push({ targetType: 'openid', targetId: 'u1' }),
        () => batch({ targets: [{ targetType: 'openid', targetId: 'u1' }] }),
        () => broadcast({}),
      ]) {
        await assert.rejects(call(), (e: grpc.ServiceError) => {
          assert.equal(e.code, grpc.status.INTERNAL);
          assert.match(e.details, /kaboom/);
          return true;
        });
      }
    } finally {
      explode = false;
    }
    const res = await push({ targetType: 'openid', targetId: 'u1' });
    assert.equal(res.success, true);
  });

  it('rejects garbage bytes with a gRPC error and keeps serving', async () => {
    const raw = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      await assert.rejects(
        new Promise((resolve, reject) =>
          raw.makeUnaryRequest(
            '/gatesvr.v1.GatewayService/PushToClient',
            (b: Buffer) => b,
            (b: Buffer) => b,
            Buffer.from([0xff, 0xff, 0xff]),
            { deadline: Date.now() + 10_000 },
            (err, res) => (err ? reject(err) : resolve(res)),
          ),
        ),
        (e: grpc.ServiceError) => e.code !== grpc.status.OK,
      );
    } finally {
      raw.close();
    }
    assert.equal((await push({ targetType: 'openid', targetId: 'u1' })).success, true);
  });

  it('PushStream: garbage after a valid push fails that stream only; the server keeps serving', async () => {
    const raw = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    try {
      const call = raw.makeBidiStreamRequest(
        '/gatesvr.v1.GatewayService/PushStream',
        (b: Buffer) => b,
        (b: Buffer) => b,
      );
      call.on('data', () => {});
      const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
      call.on('error', () => {});
      call.write(
        Buffer.from(
          StreamPushRequest.encode({
            seq: 1,
            push: { targetType: 'openid', targetId: 'u1' } as UnicastPushRequest,
          }),
        ),
      );
      call.write(Buffer.from([0xff, 0xff, 0xff]));
      call.end();
      assert.notEqual((await status).code, grpc.status.OK);
    } finally {
      raw.close();
    }
    const stream = client.PushStream();
    const answered = new Promise<StreamPushResponse>((resolve) => stream.once('data', resolve));
    stream.write({ seq: 2, push: { targetType: 'openid', targetId: 'u1' } as UnicastPushRequest });
    stream.end();
    assert.equal((await answered).success, true);
  });

  it('PushStream: answers every push by seq, refusals and failures included, then ends OK', async () => {
    const call = client.PushStream();
    const answers: StreamPushResponse[] = [];
    call.on('data', (r: StreamPushResponse) => answers.push(r));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    const before = seen.unicast.length;
    const pushes: Array<Partial<UnicastPushRequest> | null> = [
      { targetType: 'openid', targetId: 's1', content: 'one' },
      { targetType: 'session', targetId: 'missing' },
      { targetType: 'user', targetId: 'u1' },
      null, // no push at all
      { targetType: 'openid', targetId: 'store-down' },
      { targetType: 'openid', targetId: 's1', content: 'two' },
    ];
    pushes.forEach((push, i) => {
      call.write(push === null ? { seq: 100 + i } : { seq: 100 + i, push: push as UnicastPushRequest });
    });
    call.end();
    assert.equal((await status).code, grpc.status.OK);
    const bySeq = new Map(answers.map((a) => [a.seq, a]));
    assert.equal(bySeq.size, pushes.length);
    const outcome = (seq: number) => [bySeq.get(seq)!.success, bySeq.get(seq)!.errorCode];
    assert.deepEqual(outcome(100), [true, '']);
    assert.deepEqual(outcome(101), [false, 'SESSION_NOT_FOUND']);
    assert.deepEqual(outcome(102), [false, 'BAD_REQUEST']);
    assert.deepEqual(outcome(103), [false, 'BAD_REQUEST']);
    assert.deepEqual(outcome(104), [false, 'UNAVAILABLE']);
    assert.deepEqual(outcome(105), [true, '']);
    // The api saw the valid pushes in stream order.
    assert.deepEqual(
      seen.unicast.slice(before).map((r) => r.content || r.targetId),
      ['one', 'missing', 'two'],
    );

    explode = true;
    try {
      const failing = client.PushStream();
      const got: StreamPushResponse[] = [];
      failing.on('data', (r: StreamPushResponse) => got.push(r));
      const ended = new Promise<grpc.StatusObject>((resolve) => failing.on('status', resolve));
      failing.write({ seq: 7, push: { targetType: 'openid', targetId: 'u1' } as UnicastPushRequest });
      failing.end();
      assert.equal((await ended).code, grpc.status.OK);
      assert.deepEqual(
        got.map((r) => [r.seq, r.success, r.errorCode]),
        [[7, false, 'INTERNAL']],
      );
      assert.match(got[0]!.message, /kaboom/);
    } finally {
      explode = false;
    }
  });
});
