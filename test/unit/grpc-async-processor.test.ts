import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GateError } from '../../src/errors.js';
import { ErrorCode } from '../../src/protocol/codes.js';
import type { UpstreamRequest, UpstreamResponse } from '../../src/protocol/messages.js';
import { createAsyncProcessor, FifoLimiter } from '../../src/transport/grpc/async-processor.js';
import type { UpstreamPool } from '../../src/transport/grpc/upstream-pool.js';

interface T {
  id: number;
  deadline: number;
}

describe('FifoLimiter (pure)', () => {
  it('starts up to maxConcurrent, then queues FIFO, then rejects', () => {
    const q = new FifoLimiter<T>(2, 2);
    assert.equal(q.tryStart(), true);
    assert.equal(q.tryStart(), true);
    assert.equal(q.tryStart(), false);
    assert.equal(q.enqueue({ id: 1, deadline: 100 }), true);
    assert.equal(q.enqueue({ id: 2, deadline: 100 }), true);
    assert.equal(q.enqueue({ id: 3, deadline: 100 }), false);
    assert.deepEqual([q.inflight, q.queued, q.rejected], [2, 2, 1]);
    const expired: T[] = [];
    assert.equal(q.finish(10, (t) => expired.push(t))?.id, 1);
    assert.equal(q.finish(10, (t) => expired.push(t))?.id, 2);
    assert.equal(q.inflight, 2);
    assert.equal(
      q.finish(10, (t) => expired.push(t)),
      undefined,
    );
    assert.equal(
      q.finish(10, (t) => expired.push(t)),
      undefined,
    );
    assert.deepEqual([q.inflight, q.queued, q.completed, expired.length], [0, 0, 4, 0]);
  });

  it('drops expired tasks when a slot frees', () => {
    const q = new FifoLimiter<T>(1, 3);
    q.tryStart();
    q.enqueue({ id: 1, deadline: 5 });
    q.enqueue({ id: 2, deadline: 10 });
    q.enqueue({ id: 3, deadline: 50 });
    const expired: number[] = [];
    assert.equal(q.finish(10, (t) => expired.push(t.id))?.id, 3);
    assert.deepEqual(expired, [1, 2]);
    assert.deepEqual([q.inflight, q.queued, q.expired], [1, 0, 2]);
  });

  it('sweep removes expired tasks anywhere, keeps order, reports the earliest deadline', () => {
    const q = new FifoLimiter<T>(1, 4);
    q.tryStart();
    // Wrap the ring first.
    q.enqueue({ id: 0, deadline: 1000 });
    q.enqueue({ id: 9, deadline: 1000 });
    q.finish(0, () => {});
    q.finish(0, () => {});
    q.tryStart();
    for (const [id, deadline] of [
      [1, 30],
      [2, 5],
      [3, 40],
      [4, 8],
    ] as const) {
      assert.equal(q.enqueue({ id, deadline }), true);
    }
    const expired: number[] = [];
    assert.equal(
      q.sweep(10, (t) => expired.push(t.id)),
      30,
    );
    assert.deepEqual(expired, [2, 4]);
    assert.equal(q.queued, 2);
    assert.equal(q.enqueue({ id: 5, deadline: 20 }), true);
    const order: number[] = [];
    for (let t = q.finish(0, () => {}); t; t = q.finish(0, () => {})) order.push(t.id);
    assert.deepEqual(order, [1, 3, 5]);
    assert.equal(
      q.sweep(0, () => {}),
      Number.POSITIVE_INFINITY,
    );
  });

  it('maxQueue 0 rejects as soon as every slot is taken', () => {
    const q = new FifoLimiter<T>(1, 0);
    assert.equal(q.tryStart(), true);
    assert.equal(q.enqueue({ id: 1, deadline: 1 }), false);
    assert.equal(q.rejected, 1);
    assert.throws(() => new FifoLimiter<T>(0, 1), RangeError);
  });
});

/** A pool whose calls stay pending until the test settles them. */
function fakePool() {
  const calls: Array<{
    service: string;
    req: UpstreamRequest;
    timeoutMs: number;
    resolve: (r: UpstreamResponse) => void;
    reject: (e: unknown) => void;
  }> = [];
  const pool: UpstreamPool = {
    call: (service, req, timeoutMs) =>
      new Promise((resolve, reject) => {
        calls.push({ service, req, timeoutMs, resolve, reject });
      }),
    health: () => ({}),
    close: () => {},
  };
  return { pool, calls };
}

const req = (action: string) => ({ action }) as UpstreamRequest;
const resp = (message: string) => ({ code: 0, message }) as UpstreamResponse;
const tick = () => new Promise((r) => setImmediate(r));

describe('createAsyncProcessor', () => {
  it('limits concurrency, runs queued calls in order, rejects with 429 when full', async () => {
    const { pool, calls } = fakePool();
    let clock = 1000;
    const warnings: number[] = [];
    const ap = createAsyncProcessor(pool, {
      maxConcurrent: 2,
      maxQueue: 2,
      warningThreshold: 2,
      onWarning: (s) => warnings.push(s.queued),
      now: () => clock,
    });
    const p = ['a', 'b', 'c', 'd'].map((a) => ap.submit('business', req(a), 5000));
    await assert.rejects(ap.submit('business', req('e'), 5000), (e: unknown) => {
      assert.ok(e instanceof GateError);
      assert.equal(e.code, ErrorCode.OVERLOADED);
      return true;
    });
    assert.deepEqual(warnings, [2]);
    assert.deepEqual(
      calls.map((c) => c.req.action),
      ['a', 'b'],
    );
    assert.deepEqual(ap.stats(), { inflight: 2, queued: 2, rejected: 1, completed: 0, expired: 0 });

    clock += 1000;
    calls[0]!.resolve(resp('a'));
    assert.equal((await p[0]).message, 'a');
    await tick();
    assert.deepEqual(
      calls.map((c) => c.req.action),
      ['a', 'b', 'c'],
    );
    // The queued call gets only what is left of its deadline.
    assert.equal(calls[2]!.timeoutMs, 4000);
    calls[1]!.reject(new GateError(ErrorCode.UPSTREAM_ERROR, 'x'));
    await assert.rejects(p[1]!, GateError);
    await tick();
    calls[2]!.resolve(resp('c'));
    await tick();
    calls[3]!.resolve(resp('d'));
    assert.equal((await p[2]).message, 'c');
    assert.equal((await p[3]).message, 'd');
    await tick();
    assert.deepEqual(ap.stats(), { inflight: 0, queued: 0, rejected: 1, completed: 4, expired: 0 });
  });

  it('fails a queued call whose deadline passes before it starts with 504', async () => {
    const { pool, calls } = fakePool();
    let clock = 0;
    const ap = createAsyncProcessor(pool, { maxConcurrent: 1, maxQueue: 4, now: () => clock });
    const first = ap.submit('business', req('a'), 10_000);
    const late = ap.submit('business', req('b'), 100);
    const fine = ap.submit('business', req('c'), 10_000);
    clock = 500;
    calls[0]!.resolve(resp('a'));
    await first;
    await assert.rejects(
      late,
      (e: unknown) => e instanceof GateError && e.code === ErrorCode.UPSTREAM_TIMEOUT,
    );
    await tick();
    assert.deepEqual(
      calls.map((c) => c.req.action),
      ['a', 'c'],
    );
    calls[1]!.resolve(resp('c'));
    await fine;
    assert.equal(ap.stats().expired, 1);
  });

  it('expires queued calls by timer while every slot stays busy', async () => {
    const { pool, calls } = fakePool();
    const ap = createAsyncProcessor(pool, { maxConcurrent: 1, maxQueue: 4 });
    const stuck = ap.submit('business', req('a'), 60_000);
    const waiting = ap.submit('business', req('b'), 20);
    await assert.rejects(
      waiting,
      (e: unknown) => e instanceof GateError && e.code === ErrorCode.UPSTREAM_TIMEOUT,
    );
    assert.deepEqual([ap.stats().queued, ap.stats().expired], [0, 1]);
    calls[0]!.resolve(resp('a'));
    await stuck;
  });

  it('turns a throwing pool into a rejection and frees the slot; close fails queued calls', async () => {
    let n = 0;
    const pool: UpstreamPool = {
      call: () => {
        n++;
        if (n === 1) throw new Error('boom');
        return new Promise(() => {});
      },
      health: () => ({}),
      close: () => {},
    };
    const ap = createAsyncProcessor(pool, { maxConcurrent: 1, maxQueue: 1 });
    await assert.rejects(ap.submit('s', req('a'), 1000), /boom/);
    await tick();
    assert.equal(ap.stats().inflight, 0);
    void ap.submit('s', req('b'), 60_000);
    const queued = ap.submit('s', req('c'), 60_000);
    ap.close();
    await assert.rejects(
      queued,
      (e: unknown) => e instanceof GateError && e.code === ErrorCode.UPSTREAM_UNAVAILABLE,
    );
    await assert.rejects(ap.submit('s', req('d'), 1000), GateError);
    await assert.rejects(
      createAsyncProcessor(pool, { maxConcurrent: 1, maxQueue: 1 }).submit('s', req('e'), 0),
      (e: unknown) => e instanceof GateError && e.code === ErrorCode.UPSTREAM_TIMEOUT,
    );
  });
});
