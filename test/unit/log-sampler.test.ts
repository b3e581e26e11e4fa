import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LogSampler, OVERFLOW_KEY } from '../../src/config/log-sampler.js';

const opts = { windowMs: 1000, perKey: 3, maxKeys: 2 };

describe('LogSampler', () => {
  it('passes the first N lines of a key per window, then summarises the rest once', () => {
    const s = new LogSampler(opts);
    const passed = Array.from({ length: 10 }, (_, i) => s.admit('protocol error', 100 + i));
    assert.deepEqual(passed, [true, true, true, false, false, false, false, false, false, false]);
    assert.equal(s.suppressing, true);
    assert.deepEqual(s.takeSummaries(500), [], 'nothing before the window ends');
    assert.equal(s.windowEnd, 1100);
    assert.deepEqual(s.takeSummaries(1100), [{ key: 'protocol error', suppressed: 7 }]);
    assert.deepEqual(s.takeSummaries(5000), [], 'each summary once');
    assert.equal(s.admit('protocol error', 5001), true, 'a new window starts fresh');
  });

  it('counts keys separately and folds keys beyond maxKeys into one overflow key', () => {
    const s = new LogSampler(opts);
    assert.equal(s.admit('a', 0), true);
    assert.equal(s.admit('b', 0), true);
    for (let i = 0; i < 50; i++) assert.equal(s.admit(`c${i}`, 1), false, 'a third key is never written');
    assert.equal(s.admit('a', 2), true, 'known keys keep their own budget');
    assert.deepEqual(s.takeSummaries(1000), [{ key: OVERFLOW_KEY, suppressed: 50 }]);
  });

  it('a key below its limit gives no summary; takeAll ends the window at shutdown', () => {
    const s = new LogSampler(opts);
    s.admit('quiet', 0);
    for (let i = 0; i < 5; i++) s.admit('loud', 0);
    assert.equal(s.suppressing, true);
    assert.deepEqual(s.takeAll(), [{ key: 'loud', suppressed: 2 }]);
    assert.equal(s.suppressing, false);
    assert.equal(s.admit('loud', 1), true);
  });

  it('memory stays bounded under an unbounded variety of keys', () => {
    const s = new LogSampler({ windowMs: 10_000, perKey: 10, maxKeys: 64 });
    let written = 0;
    for (let i = 0; i < 100_000; i++) if (s.admit(`reason ${i}`, i % 9_000)) written++;
    assert.equal(written, 64);
    const [sum] = s.takeAll();
    assert.deepEqual(sum, { key: OVERFLOW_KEY, suppressed: 100_000 - 64 });
  });
});
