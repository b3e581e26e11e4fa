import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CidTable, cidKey, isLongHeader, shortHeaderDcidKey } from '../../src/transport/quic/cid-table.js';

const cid = (fill: number, len = 20) => Buffer.alloc(len, fill);

test('maps and unmaps ids with full byte comparison', () => {
  const t = new CidTable<string>();
  const a = cid(1);
  const b = Buffer.from(a);
  b[19] = 2; // differs only in the last byte
  const ka = t.add(a, 'A');
  t.add(b, 'B');
  assert.equal(t.getCid(Buffer.from(a)), 'A');
  assert.equal(t.getCid(b), 'B');
  assert.equal(t.get(ka), 'A');
  assert.equal(t.size, 2);
  assert.equal(t.delete(ka, 'B'), false, 'does not unmap an id now owned by someone else');
  assert.equal(t.delete(ka, 'A'), true);
  assert.equal(t.getCid(a), undefined);
  assert.equal(t.size, 1);
});

test('keys of views equal keys of copies, and ids of different lengths differ', () => {
  const big = Buffer.concat([cid(9, 5), cid(7, 20), cid(9, 5)]);
  const view = new Uint8Array(big.buffer, big.byteOffset + 5, 20);
  assert.equal(cidKey(view), cidKey(cid(7)));
  assert.notEqual(cidKey(cid(7, 16)), cidKey(cid(7, 20)));
  assert.equal(cidKey(cid(0xff)).length, 20);
});

test('short-header dcid parse', () => {
  const pkt = Buffer.concat([Buffer.from([0x40]), cid(5), Buffer.alloc(30)]);
  assert.equal(shortHeaderDcidKey(pkt, 20), cidKey(cid(5)));
  assert.equal(isLongHeader(pkt), false);
  // long header: not a short-header key
  const long = Buffer.from(pkt);
  long[0] = 0xc0;
  assert.equal(shortHeaderDcidKey(long, 20), null);
  assert.equal(isLongHeader(long), true);
  // truncated
  assert.equal(shortHeaderDcidKey(pkt.subarray(0, 20), 20), null);
  assert.equal(shortHeaderDcidKey(Buffer.alloc(0), 20), null);
  assert.equal(isLongHeader(Buffer.alloc(0)), false);
});
