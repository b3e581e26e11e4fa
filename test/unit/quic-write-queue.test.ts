import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriteQueue } from '../../src/transport/quic/write-queue.js';

test('starts without a buffer and concatenates writes into one view', () => {
  const q = new WriteQueue();
  assert.equal(q.capacity, 0);
  assert.equal(q.length, 0);
  q.push(Buffer.from('hello '));
  q.push(Buffer.from('world'));
  assert.equal(q.length, 11);
  assert.equal(q.peek().toString(), 'hello world');
  assert.ok(q.capacity >= 11 && q.capacity <= 1024, 'small writes use a small buffer');
});

test('copies input, so callers may reuse their buffers', () => {
  const q = new WriteQueue();
  const b = Buffer.from('abc');
  q.push(b);
  b.fill(0);
  assert.equal(q.peek().toString(), 'abc');
});

test('partial consume keeps the rest in order, and later writes append', () => {
  const q = new WriteQueue();
  q.push(Buffer.from('0123456789'));
  q.consume(4);
  assert.equal(q.peek().toString(), '456789');
  q.push(Buffer.from('ab'));
  assert.equal(q.peek().toString(), '456789ab');
  q.consume(100);
  assert.equal(q.length, 0);
  assert.equal(q.peek().length, 0);
});

test('grows for large writes and releases large buffers when drained', () => {
  const q = new WriteQueue();
  const big = Buffer.alloc(1024 * 1024, 7);
  q.push(big);
  q.push(Buffer.from([1, 2, 3]));
  assert.equal(q.length, big.length + 3);
  const v = q.peek();
  assert.equal(v[0], 7);
  assert.equal(v[v.length - 1], 3);
  q.consume(q.length);
  assert.equal(q.capacity, 0, 'idle connections hold no buffer');
});

test('byte stream integrity under random push/consume', () => {
  const q = new WriteQueue();
  let wrote = 0;
  let read = 0;
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let i = 0; i < 3000; i++) {
    if (rnd(3) < 2) {
      const n = rnd(5000);
      const b = Buffer.allocUnsafe(n);
      for (let j = 0; j < n; j++) b[j] = (wrote + j) & 0xff;
      q.push(b);
      wrote += n;
    } else {
      const v = q.peek();
      const n = Math.min(v.length, rnd(8000));
      for (let j = 0; j < n; j++) assert.equal(v[j], (read + j) & 0xff);
      q.consume(n);
      read += n;
    }
    assert.equal(q.length, wrote - read);
  }
});
