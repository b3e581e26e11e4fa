import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../src/client/backoff.js';

/** A random source that returns the given values in turn (then repeats the last). */
const seq = (...xs: number[]) => {
  let i = 0;
  return () => xs[Math.min(i++, xs.length - 1)]!;
};

describe('Backoff (full jitter)', () => {
  it('the ceiling doubles per attempt from minMs and stops at maxMs', () => {
    const b = new Backoff({ minMs: 100, maxMs: 5000, random: () => 0.5 });
    const ceilings: number[] = [];
    for (let k = 0; k < 9; k++) {
      ceilings.push(b.ceiling());
      b.next();
    }
    assert.deepEqual(ceilings, [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    assert.equal(b.attempts, 9);
  });

  it('each delay is random * ceiling: the first one too, never above the cap', () => {
    const b = new Backoff({ minMs: 100, maxMs: 1000, random: seq(0.5, 0.25, 0.999, 0, 0.5, 0.5) });
    assert.deepEqual(
      [b.next(), b.next(), b.next(), b.next(), b.next(), b.next()],
      [50, 50, 399, 0, 500, 500],
    );
  });

  it('stays within [0, ceiling) for the extreme random values', () => {
    for (const r of [0, 0.999999999, 1 - Number.EPSILON]) {
      const b = new Backoff({ minMs: 10, maxMs: 300, random: () => r });
      for (let k = 0; k < 40; k++) {
        const cap = b.ceiling();
        const d = b.next();
        assert.ok(d >= 0 && d < cap, `attempt ${k}: ${d} in [0, ${cap})`);
        assert.ok(Number.isInteger(d));
      }
    }
  });

  it('a random source outside [0, 1) never yields a delay outside the bounds', () => {
    for (const r of [1, 2, -1, Number.NaN]) {
      const b = new Backoff({ minMs: 100, maxMs: 1000, random: () => r });
      const d = b.next();
      assert.ok(d >= 0 && d < 100, `${r} -> ${d}`);
    }
  });

  it('reset starts over at minMs', () => {
    const b = new Backoff({ minMs: 50, maxMs: 5000, random: () => 0.5 });
    for (let k = 0; k < 6; k++) b.next();
    assert.equal(b.ceiling(), 3200);
    b.reset();
    assert.equal(b.attempts, 0);
    assert.equal(b.ceiling(), 50);
    assert.equal(b.next(), 25);
  });

  it('spreads a crowd: 10,000 first delays cover [0, minMs) roughly uniformly', () => {
    let s = 7;
    const lcg = () => {
      s = (s * 1103515245 + 12345) >>> 0;
      return s / 2 ** 32;
    };
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const d = new Backoff({ minMs: 100, maxMs: 5000, random: lcg }).next();
      buckets[Math.floor(d / 10)]!++;
    }
    for (const n of buckets) assert.ok(n > 800 && n < 1200, `bucket holds ${n} of 10,000`);
  });

  it('many attempts never overflow and stay capped', () => {
    const b = new Backoff({ minMs: 1, maxMs: 60_000, random: () => 0.999 });
    for (let k = 0; k < 2000; k++) assert.ok(b.next() < 60_000);
    assert.equal(b.ceiling(), 60_000);
  });

  it('refuses bounds that make no sense', () => {
    assert.throws(() => new Backoff({ minMs: 0, maxMs: 10 }), RangeError);
    assert.throws(() => new Backoff({ minMs: 100, maxMs: 10 }), RangeError);
    assert.throws(() => new Backoff({ minMs: Number.NaN, maxMs: 10 }), RangeError);
    assert.doesNotThrow(() => new Backoff({ minMs: 10, maxMs: 10 }));
  });
});
