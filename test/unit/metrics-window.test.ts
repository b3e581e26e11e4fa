/** Pieces of the metrics module: percentile window, rate history, selection, observer composition. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composeObservers } from '../../src/metrics/compose.js';
import { LatencyWindow, RateHistory, select } from '../../src/metrics/window.js';

test('LatencyWindow: nearest-rank percentiles over the samples inside the window', () => {
  const w = new LatencyWindow(1000);
  for (let i = 1; i <= 100; i++) w.add(1000 + i, i);
  const s = w.summary(0);
  assert.deepEqual(
    { count: s.count, p50: s.p50, p90: s.p90, p99: s.p99, max: s.max, mean: s.mean },
    { count: 100, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 },
  );
  // Only samples at or after the cutoff count.
  const late = w.summary(1091);
  assert.equal(late.count, 10);
  assert.equal(late.p50, 95);
  assert.deepEqual(new LatencyWindow().summary(0), { count: 0, p50: 0, p90: 0, p99: 0, max: 0, mean: 0 });
});

test('LatencyWindow: a full ring keeps the newest samples', () => {
  const w = new LatencyWindow(4);
  for (let i = 1; i <= 10; i++) w.add(i, i * 10);
  const s = w.summary(0);
  assert.equal(s.count, 4);
  assert.equal(s.max, 100);
  assert.equal(s.p50, 80);
});

test('RateHistory: per-second rates against the oldest snapshot inside the window', () => {
  const h = new RateHistory<'n'>(10_000, { t: 0, v: { n: 0 } });
  for (let t = 1000; t <= 20_000; t += 1000) h.record(t, { n: t / 10 });
  const r = h.rates(20_500, { n: 2050 });
  assert.ok(r.seconds > 9 && r.seconds <= 10, `seconds ${r.seconds}`);
  assert.ok(Math.abs(r.perSecond.n - 100) < 1e-9, `rate ${r.perSecond.n}`);
  // Right after start: divided by at least one second.
  const fresh = new RateHistory<'n'>(10_000, { t: 0, v: { n: 0 } });
  assert.equal(fresh.rates(100, { n: 5 }).perSecond.n, 5);
});

test('select finds the same ranks a sort does, on random, sorted and repeated samples', () => {
  let x = 12345;
  const rand = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x / 2 ** 31;
  };
  const inputs = [
    Array.from({ length: 1000 }, () => Math.round(rand() * 500) / 10),
    Array.from({ length: 513 }, (_, i) => i),
    Array.from({ length: 200 }, (_, i) => 200 - i),
    Array.from({ length: 64 }, () => 7),
    [3],
  ];
  for (const input of inputs) {
    const sorted = [...input].sort((p, q) => p - q);
    for (const k of [0, input.length >> 1, Math.floor(input.length * 0.9), input.length - 1]) {
      assert.equal(
        select(Float64Array.from(input), 0, input.length - 1, k),
        sorted[k],
        `k ${k} of ${input.length}`,
      );
    }
  }
});

test('LatencyWindow: percentiles of random samples match nearest-rank over a sort', () => {
  const w = new LatencyWindow(8192);
  const values: number[] = [];
  for (let i = 0; i < 8192; i++) {
    const v = ((i * 7919) % 1000) / 3;
    values.push(v);
    w.add(i, v);
  }
  const sorted = values.sort((p, q) => p - q);
  const rank = (p: number) => sorted[Math.ceil(p * sorted.length) - 1];
  const s = w.summary(0);
  assert.deepEqual([s.p50, s.p90, s.p99, s.max], [rank(0.5), rank(0.9), rank(0.99), sorted[8191]]);
});

test('composeObservers calls every set in order and skips missing ones', () => {
  const calls: string[] = [];
  const single = composeObservers(null, { onRequest: (t) => calls.push(`a${t}`) }, undefined);
  single.onRequest?.(4);
  assert.equal(single.onEffect, undefined);
  const both = composeObservers(
    { onRequest: (t) => calls.push(`b${t}`), onConnectionChange: (n) => calls.push(`c${n}`) },
    { onRequest: (t) => calls.push(`d${t}`) },
  );
  both.onRequest?.(1);
  both.onConnectionChange?.(3);
  assert.deepEqual(calls, ['a4', 'b1', 'd1', 'c3']);
});
