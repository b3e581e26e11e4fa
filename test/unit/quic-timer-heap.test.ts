import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type HeapItem, TimerHeap } from '../../src/transport/quic/timer-heap.js';

interface Item extends HeapItem {
  name: string;
}
const item = (name: string): Item => ({ name, deadline: 0, heapIndex: -1 });

function drain(h: TimerHeap<Item>): string[] {
  const out: string[] = [];
  for (let it = h.popDue(Number.POSITIVE_INFINITY); it; it = h.popDue(Number.POSITIVE_INFINITY))
    out.push(it.name);
  return out;
}

test('pops in deadline order', () => {
  const h = new TimerHeap<Item>();
  const names = ['e', 'a', 'd', 'b', 'c'];
  const deadlines = [50, 10, 40, 20, 30];
  names.forEach((n, i) => {
    h.set(item(n), deadlines[i]!);
  });
  assert.equal(h.size, 5);
  assert.equal(h.peek()!.name, 'a');
  assert.deepEqual(drain(h), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(h.size, 0);
});

test('popDue only returns due items', () => {
  const h = new TimerHeap<Item>();
  h.set(item('x'), 100);
  h.set(item('y'), 200);
  assert.equal(h.popDue(50), undefined);
  assert.equal(h.popDue(150)!.name, 'x');
  assert.equal(h.popDue(150), undefined);
  assert.equal(h.popDue(200)!.name, 'y');
});

test('set moves an existing item earlier and later', () => {
  const h = new TimerHeap<Item>();
  const a = item('a');
  const b = item('b');
  const c = item('c');
  h.set(a, 10);
  h.set(b, 20);
  h.set(c, 30);
  h.set(c, 5);
  assert.equal(h.peek(), c);
  h.set(c, 100);
  assert.equal(h.size, 3);
  assert.deepEqual(drain(h), ['a', 'b', 'c']);
});

test('remove from the middle keeps heap order; removing twice is harmless', () => {
  const h = new TimerHeap<Item>();
  const items = Array.from({ length: 20 }, (_, i) => item(String(i)));
  items.forEach((it, i) => {
    h.set(it, (i * 7919) % 101);
  });
  h.remove(items[3]!);
  h.remove(items[3]!);
  h.remove(items[10]!);
  assert.equal(items[3]!.heapIndex, -1);
  assert.equal(h.has(items[3]!), false);
  const order = drain(h).map((n) => items[Number(n)]!.deadline);
  assert.equal(order.length, 18);
  for (let i = 1; i < order.length; i++) assert.ok(order[i - 1]! <= order[i]!);
});

test('randomised against a sorted reference', () => {
  const h = new TimerHeap<Item>();
  const live = new Map<Item, number>();
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pool = Array.from({ length: 200 }, (_, i) => item(String(i)));
  for (let step = 0; step < 5000; step++) {
    const it = pool[Math.floor(rnd() * pool.length)]!;
    const op = rnd();
    if (op < 0.6) {
      const d = Math.floor(rnd() * 1000);
      h.set(it, d);
      live.set(it, d);
    } else if (op < 0.8) {
      h.remove(it);
      live.delete(it);
    } else {
      const now = Math.floor(rnd() * 1000);
      const got = h.popDue(now);
      const min = Math.min(...live.values());
      if (got === undefined) assert.ok(live.size === 0 || min > now);
      else {
        assert.equal(got.deadline, min);
        live.delete(got);
      }
    }
    assert.equal(h.size, live.size);
  }
});
