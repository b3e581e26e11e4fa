/**
 * Wire compatibility of the generated codecs (src/gen via src/protocol/messages.ts) with the
 * protobufjs reflection codec they replaced: golden bytes that the old encoder produced, the
 * same bytes as a reflection codec loaded from proto/ today (for fixed and random messages),
 * proto3 defaults on decode, and the gRPC method table derived from the generated services.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { gatesvr } from '../../src/gen/proto.js';
import { NotifySyncHint, PushType, RequestType } from '../../src/protocol/codes.js';
import { type Codec, codecOf, type MessageName } from '../../src/protocol/messages.js';
import {
  GatewayServiceDefinition,
  UpstreamServiceDefinition,
} from '../../src/transport/grpc/service-defs.js';

type Plain = Record<string, unknown>;
const b = (...x: number[]) => new Uint8Array(x);

/** [message, value, hex that the protobufjs reflection encoder (before src/gen) wrote for it]. */
const GOLDEN: Array<[MessageName, Plain, string]> = [
  [
    'ClientRequest',
    {
      msgId: 7,
      seqId: Number.MAX_SAFE_INTEGER,
      type: 4,
      payload: b(1, 2, 3),
      headers: { trace: 'abc', 'x-k': 'é✓' },
      openid: 'user-1',
    },
    '080710ffffffffffffff0f180422030102032a0c0a05747261636512036162632a0c0a03782d6b1205c3a9e29c933206757365722d31',
  ],
  // proto3: fields at their default are not written, even when set explicitly.
  ['ClientRequest', { msgId: 0, seqId: 0, type: 0, payload: b(), headers: {}, openid: '' }, ''],
  [
    'ServerPush',
    { msgId: 0, seqId: 300, type: 5, payload: b(0xff, 0), headers: { client_seq: '12' } },
    '10ac0218052202ff002a100a0a636c69656e745f73657112023132',
  ],
  [
    'StartRequest',
    { openid: 'alice', authToken: 't0k', lastAckedSeqId: 1_000_000_000_000 },
    '0a05616c696365120374306b1880a094a58d1d',
  ],
  [
    'StartResponse',
    {
      success: false,
      error: { errorCode: -1, errorMessage: 'bad', detail: '' },
      heartbeatInterval: 30,
      connectionId: 'c1',
      sessionId: 's1',
      resumed: true,
      lastClientSeq: 5,
      zone: -2,
    },
    '121008ffffffffffffffffff011203626164181e220263312a0273313001380540feffffffffffffffff01',
  ],
  ['StopRequest', { reason: 3 }, '0803'],
  ['HeartbeatRequest', { clientTimestamp: -5 }, '08fbffffffffffffffff01'],
  [
    'HeartbeatResponse',
    { clientTimestamp: 1_764_000_000_000, serverTimestamp: 1_764_000_000_001 },
    '0880d0dfb4ab331081d0dfb4ab33',
  ],
  [
    'BusinessRequest',
    { action: 'echo', params: { a: '1' }, data: b(9) },
    '0a046563686f12060a01611201311a0109',
  ],
  ['BusinessResponse', { code: 502, message: 'upstream', data: b() }, '08f6031208757073747265616d'],
  [
    'ErrorMessage',
    { errorCode: 413, errorMessage: 'too large', detail: 'frame' },
    '089d031209746f6f206c617267651a056672616d65',
  ],
  ['ClientAck', { ackedSeqId: 128 }, '088001'],
  [
    'NotifyMessage',
    { msgType: 'chat', title: 'T', content: 'héllo', data: b(1), metadata: { room: 'r' }, broadcast: true },
    '0a04636861741201541a0668c3a96c6c6f2201012a090a04726f6f6d1201723001',
  ],
  [
    'UpstreamRequest',
    {
      sessionId: 's',
      openid: 'o',
      action: 'a',
      params: { p: 'q' },
      data: b(2),
      headers: { h: 'v' },
      clientSeqId: 77,
    },
    '0a017312016f1a016122060a01701201712a010232060a0168120176384d',
  ],
  [
    'UpstreamResponse',
    { code: 0, message: 'ok', data: b(3), headers: { zone: '1' }, clientSeqId: 77 },
    '12026f6b1a010322090a047a6f6e65120131284d',
  ],
  ['StatusRequest', { serviceName: 'zone' }, '0a047a6f6e65'],
  [
    'StatusResponse',
    { status: 'ok', uptime: 12345, activeConnections: 3, metadata: { v: '1' } },
    '0a026f6b10b960180322060a0176120131',
  ],
  [
    'UnicastPushRequest',
    {
      targetType: 'openid',
      targetId: 'bob',
      msgType: 'm',
      title: 't',
      content: 'c',
      data: b(4),
      metadata: { k: 'v' },
      syncHint: 2,
      bindClientSeqId: 9,
      pushId: 'p-1',
    },
    '0a066f70656e69641203626f621a016d2201742a01633201043a060a016b120176400248095203702d31',
  ],
  [
    'UnicastPushResponse',
    { success: true, message: '', errorCode: 'QUEUE_FULL' },
    '08011a0a51554555455f46554c4c',
  ],
  ['UnicastTarget', { targetType: 'openid', targetId: 'a' }, '0a066f70656e6964120161'],
  [
    'BatchUnicastPushRequest',
    {
      targets: [
        { targetType: 'openid', targetId: 'a' },
        { targetType: 'session', targetId: 'b' },
      ],
      msgType: 'm',
      title: '',
      content: 'c',
      data: b(),
      metadata: {},
      pushId: 'p-2',
    },
    '0a0b0a066f70656e69641201610a0c0a0773657373696f6e12016212016d2201633a03702d32',
  ],
  [
    'UnicastResult',
    { targetType: 'session', targetId: 'b', success: false, errorMessage: 'SESSION_NOT_FOUND' },
    '0a0773657373696f6e120162221153455353494f4e5f4e4f545f464f554e44',
  ],
  [
    'BatchUnicastPushResponse',
    {
      successCount: 1,
      totalCount: 2,
      results: [
        { targetType: 'openid', targetId: 'a', success: true, errorMessage: '' },
        { targetType: 'session', targetId: 'b', success: false, errorMessage: 'SESSION_NOT_FOUND' },
      ],
    },
    '080110021a0d0a066f70656e696412016118011a1f0a0773657373696f6e120162221153455353494f4e5f4e4f545f464f554e44',
  ],
  [
    'BroadcastRequest',
    { msgType: 'm', title: 't', content: 'c', data: b(5), metadata: {}, zone: 3, pushId: '' },
    '0a016d1201741a01632201053003',
  ],
  ['BroadcastResponse', { success: true, message: 'sent', deliveredCount: 42 }, '0801120473656e74182a'],
  // PushStream (extension): new messages, so their bytes come from the reflection encoder (checked
  // by hand: seq 300 = 08ac02, the push as field 2, its push_id as field 10 = tag 0x52).
  [
    'StreamPushRequest',
    { seq: 300, push: { targetType: 'openid', targetId: 'u', content: 'c', pushId: 'p' } },
    '08ac0212110a066f70656e69641201752a0163520170',
  ],
  [
    'StreamPushResponse',
    { seq: 300, success: false, message: 'full', errorCode: 'QUEUE_FULL' },
    '08ac021a0466756c6c220a51554555455f46554c4c',
  ],
];

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// protobufjs itself stays a dependency (the generated code's runtime), so the reflection codec the
// gateway used before src/gen can be loaded here as the reference.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();
const reflection = protobuf.loadSync([join(ROOT, 'proto/message.proto'), join(ROOT, 'proto/upstream.proto')]);
const oldEncode = (name: string, v: Plain) =>
  Buffer.from(reflection.lookupType(`gatesvr.v1.${name}`).encode(v).finish()).toString('hex');

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');
const codec = (name: MessageName) => codecOf(name) as unknown as Codec<Plain>;

/** Every message of package gatesvr.v1 in the generated code. */
const GENERATED = Object.entries(gatesvr.v1)
  .filter(([, v]) => typeof (v as { decode?: unknown }).decode === 'function')
  .map(([k]) => k)
  .sort();
const MAP_FIELDS = new Set(['headers', 'params', 'metadata']);

/** `decoded` has every field of `want`, equal (bytes as bytes, maps exactly, nested messages by field). */
function assertFields(decoded: unknown, want: unknown, path: string): void {
  if (want instanceof Uint8Array) {
    assert.ok(decoded instanceof Uint8Array, `${path} is bytes`);
    assert.equal(hex(decoded), hex(want), path);
  } else if (Array.isArray(want)) {
    assert.ok(Array.isArray(decoded), `${path} is an array`);
    assert.equal(decoded.length, want.length, `${path}.length`);
    want.forEach((w, i) => {
      assertFields(decoded[i], w, `${path}[${i}]`);
    });
  } else if (want !== null && typeof want === 'object') {
    const d = decoded as Plain;
    if (MAP_FIELDS.has(path.slice(path.lastIndexOf('.') + 1))) assert.deepEqual({ ...d }, { ...want }, path);
    else for (const [k, w] of Object.entries(want)) assertFields(d[k], w, `${path}.${k}`);
  } else {
    assert.equal(decoded, want, path);
  }
}

describe('generated protobuf codecs', () => {
  it('have a golden case for every generated message', () => {
    assert.deepEqual([...new Set(GOLDEN.map(([n]) => n))].sort(), GENERATED);
  });

  for (const [name, value, golden] of GOLDEN) {
    it(`${name}: the old encoder's bytes, and a round trip (${golden.length / 2} bytes)`, () => {
      assert.equal(oldEncode(name, value), golden, 'reference codec still agrees with the golden bytes');
      const bytes = codec(name).encode(value);
      assert.equal(hex(bytes), golden);
      assertFields(codec(name).decode(bytes), value, name);
    });
  }

  it('decode empty input to proto3 defaults', () => {
    const r = codecOf('ClientRequest').decode(new Uint8Array(0));
    assert.deepEqual(
      [r.msgId, r.seqId, r.type, r.payload.length, { ...r.headers }, r.openid],
      [0, 0, 0, 0, {}, ''],
    );
    const s = codecOf('StartResponse').decode(new Uint8Array(0));
    assert.deepEqual([s.success, s.error ?? null, s.zone, s.sessionId], [false, null, 0, '']);
    const bat = codecOf('BatchUnicastPushRequest').decode(new Uint8Array(0));
    assert.deepEqual([bat.targets, bat.pushId], [[], '']);
  });

  it('decode 64-bit values above 2^53 to (rounded) numbers, as before: no Long, no throw', () => {
    const max = Buffer.from('08ffffffffffffffffff01', 'hex'); // ClientAck.acked_seq_id = 2^64-1
    assert.equal(codecOf('ClientAck').decode(max).ackedSeqId, 2 ** 64);
    const neg = codecOf('HeartbeatRequest').decode(Buffer.from('08fbffffffffffffffff01', 'hex'));
    assert.equal(neg.clientTimestamp, -5);
  });

  it('throw on truncated input', () => {
    assert.throws(() => codecOf('ClientRequest').decode(Buffer.from('0a05616c', 'hex')));
  });

  const text = fc.string({ maxLength: 12 });
  const map = fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), text, { maxKeys: 3 });
  const bytes = fc.uint8Array({ maxLength: 24 });
  const u64 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
  const RANDOM: Array<[MessageName, fc.Arbitrary<Plain>]> = [
    [
      'ClientRequest',
      fc.record({ msgId: fc.nat(), seqId: u64, type: fc.nat(5), payload: bytes, headers: map, openid: text }),
    ],
    ['ServerPush', fc.record({ msgId: fc.nat(), seqId: u64, type: fc.nat(5), payload: bytes, headers: map })],
    [
      'NotifyMessage',
      fc.record({
        msgType: text,
        title: text,
        content: text,
        data: bytes,
        metadata: map,
        broadcast: fc.boolean(),
      }),
    ],
    [
      'UnicastPushRequest',
      fc.record({
        targetType: text,
        targetId: text,
        msgType: text,
        content: text,
        data: bytes,
        metadata: map,
        syncHint: fc.nat(2),
        bindClientSeqId: u64,
        pushId: text,
      }),
    ],
    [
      'UpstreamRequest',
      fc.record({ sessionId: text, action: text, params: map, data: bytes, headers: map, clientSeqId: u64 }),
    ],
    [
      'UpstreamResponse',
      fc.record({ code: fc.integer(), message: text, data: bytes, headers: map, clientSeqId: u64 }),
    ],
  ];
  for (const [name, arb] of RANDOM) {
    it(`${name}: random messages encode to the reflection codec's bytes and round-trip`, () => {
      fc.assert(
        fc.property(arb, (v) => {
          const got = codec(name).encode(v);
          assert.equal(hex(got), oldEncode(name, v));
          assertFields(codec(name).decode(got), v, name);
        }),
        { seed: 0x9b07, numRuns: 300 },
      );
    });
  }

  it('enum values agree with src/protocol/codes.ts', () => {
    const names = (e: object, prefix: string) =>
      Object.fromEntries(
        Object.entries(e)
          .filter(([k]) => Number.isNaN(Number(k)))
          .map(([k, v]) => [k.slice(prefix.length), v]),
      );
    assert.deepEqual(names(gatesvr.v1.RequestType, 'REQUEST_'), RequestType);
    assert.deepEqual(names(gatesvr.v1.PushType, 'PUSH_'), PushType);
    assert.deepEqual(names(gatesvr.v1.NotifySyncHint, 'NSH_'), NotifySyncHint);
  });
});

describe('gRPC service definitions from the generated descriptors', () => {
  const table = (def: grpc.ServiceDefinition) =>
    Object.entries(def).map(([k, m]) => [k, m.path, m.originalName, m.requestStream, m.responseStream]);

  it('carry the paths and names of the hand-written tables they replace', () => {
    assert.deepEqual(table(UpstreamServiceDefinition), [
      ['ProcessRequest', '/gatesvr.v1.UpstreamService/ProcessRequest', 'processRequest', false, false],
      ['GetStatus', '/gatesvr.v1.UpstreamService/GetStatus', 'getStatus', false, false],
    ]);
    assert.deepEqual(table(GatewayServiceDefinition), [
      ['PushToClient', '/gatesvr.v1.GatewayService/PushToClient', 'pushToClient', false, false],
      [
        'BatchPushToClients',
        '/gatesvr.v1.GatewayService/BatchPushToClients',
        'batchPushToClients',
        false,
        false,
      ],
      [
        'BroadcastToClients',
        '/gatesvr.v1.GatewayService/BroadcastToClients',
        'broadcastToClients',
        false,
        false,
      ],
      ['PushStream', '/gatesvr.v1.GatewayService/PushStream', 'pushStream', true, true],
    ]);
  });

  it("serialize with the codec of each method's request and response type", () => {
    const golden = (n: MessageName) => GOLDEN.find(([m]) => m === n)!;
    const pairs: Array<[unknown, MessageName, MessageName]> = [
      [UpstreamServiceDefinition.ProcessRequest, 'UpstreamRequest', 'UpstreamResponse'],
      [UpstreamServiceDefinition.GetStatus, 'StatusRequest', 'StatusResponse'],
      [GatewayServiceDefinition.PushToClient, 'UnicastPushRequest', 'UnicastPushResponse'],
      [GatewayServiceDefinition.BatchPushToClients, 'BatchUnicastPushRequest', 'BatchUnicastPushResponse'],
      [GatewayServiceDefinition.BroadcastToClients, 'BroadcastRequest', 'BroadcastResponse'],
      [GatewayServiceDefinition.PushStream, 'StreamPushRequest', 'StreamPushResponse'],
    ];
    for (const [method, req, res] of pairs) {
      const m = method as grpc.MethodDefinition<Plain, Plain>;
      const [, reqValue, reqHex] = golden(req);
      const [, resValue, resHex] = golden(res);
      assert.equal(m.requestSerialize(reqValue).toString('hex'), reqHex, m.path);
      assert.equal(m.responseSerialize(resValue).toString('hex'), resHex, m.path);
      assertFields(m.requestDeserialize(Buffer.from(reqHex, 'hex')), reqValue, req);
      assertFields(m.responseDeserialize(Buffer.from(resHex, 'hex')), resValue, res);
    }
  });
});
