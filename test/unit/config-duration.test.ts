import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DurationError, formatDuration, parseDuration } from '../../src/config/duration.js';

describe('parseDuration', () => {
  it('parses units and compounds', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('30s'), 30_000);
    assert.equal(parseDuration('5m'), 300_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('1h2m3s4ms'), 3_723_004);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration(' 2s '), 2000);
    assert.equal(parseDuration('0s'), 0);
  });

  it('takes plain numbers as milliseconds', () => {
    assert.equal(parseDuration(250), 250);
    assert.equal(parseDuration('250'), 250);
    assert.equal(parseDuration(0), 0);
  });

  it('rejects bad input with a clear message', () => {
    for (const bad of ['3x', '', 's', '5 m', '-1s', '1d', '1s2', 'ms', true, null, {}, [], -5, Number.NaN]) {
      assert.throws(
        () => parseDuration(bad),
        (err: unknown) =>
          err instanceof DurationError &&
          /is not a duration \(use e\.g\. "500ms", "30s", "5m"\)/.test(err.message),
        `input ${String(bad)}`,
      );
    }
    assert.throws(() => parseDuration('3x'), {
      message: '"3x" is not a duration (use e.g. "500ms", "30s", "5m")',
    });
  });

  it('formats back to the shortest string', () => {
    assert.equal(formatDuration(90_000), '1m30s');
    assert.equal(formatDuration(500), '500ms');
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(3_600_000), '1h');
    for (const ms of [1, 999, 1000, 61_001, 7_384_005]) assert.equal(parseDuration(formatDuration(ms)), ms);
  });
});
