import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OverloadProtector } from '../../src/actors/overload.js';
import { silentLogger } from '../../src/actors/ports.js';
import { defaultConfig } from '../../src/config/schema.js';
import { SlidingWindowCounter, TokenBucket } from '../../src/machines/rate-window.js';

describe('SlidingWindowCounter (pure)', () => {
  it('counts events inside the window and forgets them as it slides', () => {
    const w = new SlidingWindowCounter(1000, 10); // 100 ms buckets
    for (let t = 0; t < 1000; t += 10) w.add(t); // 100 events over 1 s
    assert.equal(w.count(999), 100);
    assert.equal(w.rate(999), 100);
    assert.equal(w.count(1050), 90); // bucket [0,100) left
    assert.equal(w.count(1500), 40); // buckets [600,1000) remain (the head bucket is the current one)
    assert.equal(w.count(1999), 0);
    assert.equal(w.count(5000), 0);
  });

  it('a long gap clears everything at once; the clock going back keeps counting', () => {
    const w = new SlidingWindowCounter(10_000, 20);
    w.add(0, 5);
    assert.equal(w.count(1e12), 0);
    w.add(1e12);
    w.add(1e12 - 5000); // earlier than head: counted in the head bucket
    assert.equal(w.count(1e12), 2);
  });

  it('tryAdd admits up to the limit and records nothing when refused', () => {
    const w = new SlidingWindowCounter(1000, 10);
    let ok = 0;
    for (let i = 0; i < 10; i++) if (w.tryAdd(0, 5)) ok++;
    assert.equal(ok, 5);
    assert.equal(w.count(0), 5);
    assert.equal(w.tryAdd(1000, 5), true); // the window slid past the first bucket
  });

  it('matches a naive log of timestamps (seeded random schedule)', () => {
    let seed = 42;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const win = 2000;
    const buckets = 20;
    const w = new SlidingWindowCounter(win, buckets);
    const log: number[] = [];
    let t = 0;
    for (let i = 0; i < 5000; i++) {
      t += Math.floor(rnd() * 30);
      w.add(t);
      log.push(t);
      const bucket = win / buckets;
      // Exact to one bucket: events whose bucket start is within the window.
      const head = Math.floor(t / bucket);
      const naive = log.filter((x) => Math.floor(x / bucket) > head - buckets).length;
      if (i % 97 === 0) assert.equal(w.count(t), naive);
    }
  });

  it('rejects bad arguments', () => {
    assert.throws(() => new SlidingWindowCounter(0));
    assert.throws(() => new SlidingWindowCounter(1000, 0));
  });
});

describe('TokenBucket (pure)', () => {
  it('allows a burst, then the rate', () => {
    const b = new TokenBucket(10, 10, 0);
    let ok = 0;
    for (let i = 0; i < 20; i++) if (b.tryTake(0)) ok++;
    assert.equal(ok, 10);
    assert.equal(b.tryTake(50), false);
    assert.equal(b.tryTake(100), true); // 1 token per 100 ms
    assert.equal(b.tryTake(100), false);
    assert.equal(b.isFull(100), false);
    assert.equal(b.isFull(2000), true);
    assert.equal(b.available(10_000), 10); // capped at burst
  });
});

function protector(patch: Partial<ReturnType<typeof defaultConfig>['overloadProtection']>) {
  const cfg = { ...defaultConfig().overloadProtection, ...patch };
  let now = 1_000_000;
  const warnings: Array<{ kind: string }> = [];
  const p = new OverloadProtector({
    config: cfg,
    now: () => now,
    logger: { ...silentLogger, warn: (obj) => warnings.push(obj as { kind: string }) },
  });
  return { p, warnings, advance: (ms: number) => (now += ms) };
}

describe('OverloadProtector', () => {
  it('refuses connections at max_connections and warns once per crossing', () => {
    const { p, warnings } = protector({ maxConnections: 3, connectionWarningThreshold: 2 });
    assert.equal(p.admitConnection(0), true);
    assert.equal(p.admitConnection(1), true); // 2 connections: warning
    assert.equal(p.admitConnection(2), true);
    assert.equal(p.admitConnection(3), false);
    assert.equal(warnings.filter((w) => w.kind === 'connections').length, 1);
    p.connectionClosed();
    p.connectionClosed(); // 1: below, re-armed
    assert.equal(p.admitConnection(1), true); // 2 again: second warning
    const s = p.stats();
    assert.equal(s.connections, 2);
    assert.equal(s.refusedConnections, 1);
    assert.equal(s.warningsByKind.connections, 2);
    assert.equal(s.warnings, 2);
  });

  it('limits gateway QPS over the sliding window', () => {
    const { p, warnings, advance } = protector({
      maxQps: 10,
      qpsWindowSeconds: 2,
      qpsWarningThreshold: 8,
      maxSessionQps: 1000,
    });
    let ok = 0;
    for (let i = 0; i < 30; i++) if (p.admitRequest(`s${i % 5}`)) ok++;
    assert.equal(ok, 20); // 10 qps x 2 s
    assert.equal(p.stats().refusedRequests, 10);
    assert.equal(p.stats().qps, 10);
    assert.equal(warnings.filter((w) => w.kind === 'qps').length, 1);
    advance(2_100);
    assert.equal(p.admitRequest('s1'), true);
  });

  it('limits each session on its own, so a noisy one does not starve the others', () => {
    const { p, advance } = protector({ maxQps: 1000, qpsWindowSeconds: 1, maxSessionQps: 5 });
    let noisy = 0;
    for (let i = 0; i < 100; i++) if (p.admitRequest('noisy')) noisy++;
    assert.equal(noisy, 5);
    for (let i = 0; i < 5; i++) assert.equal(p.admitRequest('quiet'), true);
    assert.equal(p.stats().refusedBySession, 95);
    advance(200);
    assert.equal(p.admitRequest('noisy'), true); // 5/s: one token per 200 ms
    assert.equal(p.admitRequest('noisy'), false);
  });

  it('a request refused gateway-wide costs its session no token', () => {
    const { p, advance } = protector({ maxQps: 1, qpsWindowSeconds: 1, maxSessionQps: 2 });
    assert.equal(p.admitRequest('a'), true);
    assert.equal(p.admitRequest('b'), false); // global full
    advance(1_100);
    assert.equal(p.admitRequest('b'), true);
    // b's bucket still has its second token
    advance(1_100);
    assert.equal(p.admitRequest('b'), true);
  });

  it('drops idle session buckets; sessionEnded drops at once', () => {
    const { p, advance } = protector({ maxSessionQps: 5 });
    for (let i = 0; i < 100; i++) p.admitRequest(`s${i}`);
    assert.equal(p.stats().trackedSessions, 100);
    p.sessionEnded('s0');
    assert.equal(p.stats().trackedSessions, 99);
    advance(11_000);
    p.admitRequest('x');
    assert.equal(p.stats().trackedSessions, 1);
  });

  it('enabled: false admits everything but still counts', () => {
    const { p } = protector({ enabled: false, maxConnections: 1, maxQps: 1, maxSessionQps: 1 });
    for (let i = 0; i < 5; i++) assert.equal(p.admitConnection(i), true);
    for (let i = 0; i < 50; i++) assert.equal(p.admitRequest('a'), true);
    const s = p.stats();
    assert.equal(s.connections, 5);
    assert.equal(s.admittedRequests, 50);
    assert.equal(s.refusedRequests + s.refusedConnections, 0);
  });

  it('counts upstream calls in flight and warns at the threshold', async () => {
    const { p, warnings } = protector({ upstreamWarningThreshold: 2 });
    const resolvers: Array<() => void> = [];
    const calls = [0, 1, 2].map(() => p.trackUpstream(new Promise<void>((r) => resolvers.push(r))));
    assert.equal(p.stats().upstreamInflight, 3);
    assert.equal(warnings.filter((w) => w.kind === 'upstream').length, 1);
    for (const r of resolvers) r();
    await Promise.all(calls);
    await new Promise((r) => setImmediate(r));
    assert.equal(p.stats().upstreamInflight, 0);
  });
});
