/**
 * The pure parts of the QUIC edge protection (docs/security-edge.md): the frame
 * token bucket, the start_timeout scaling, retry tokens, and the per-source and
 * half-open handshake bookkeeping.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/schema.js';
import { listenerEdgeLimits, quicEdgeLimits } from '../../src/gateway.js';
import { TokenBucket } from '../../src/machines/rate-window.js';
import { effectiveStartTimeoutMs } from '../../src/machines/start-timeout.js';
import { EdgeGuard, type EdgeLimits, sourceKey } from '../../src/transport/quic/edge-guard.js';
import { RetryTokens } from '../../src/transport/quic/retry-token.js';

describe('frame rate: TokenBucket taking a read at a time', () => {
  it('takes a batch only when the bucket holds all of it; refills at the rate up to the burst', () => {
    const b = new TokenBucket(2000, 4000, 0);
    assert.equal(b.tryTake(0, 3000), true);
    assert.equal(b.tryTake(0, 1001), false, 'more than is left');
    assert.equal(b.available(0), 1000, 'a refused batch takes nothing');
    assert.equal(b.tryTake(0, 1000), true);
    assert.equal(b.tryTake(0, 1), false);
    assert.equal(b.tryTake(500, 1000), true, '500 ms at 2000/s = 1000 tokens');
    assert.equal(b.tryTake(500, 1), false);
    assert.equal(b.available(60_000), 4000, 'never above the burst');
  });

  it('a client at a steady rate under the limit is never refused; a flood is refused within the burst', () => {
    const steady = new TokenBucket(2000, 4000, 0);
    // 1,900 frames a second in reads of 19 frames every 10 ms, for a minute.
    for (let t = 0; t < 60_000; t += 10) assert.equal(steady.tryTake(t, 19), true, `at ${t} ms`);
    const flood = new TokenBucket(2000, 4000, 0);
    let taken = 0;
    let t = 0;
    while (flood.tryTake(t, 100)) {
      taken += 100;
      t += 1; // 100 frames per ms = 100,000 frames a second
    }
    assert.ok(taken <= 4000 + 2 * t, `took ${taken} frames in ${t} ms`);
    assert.ok(t < 100, 'refused within the first 100 ms');
  });

  it('the default posture allows 2,000 frames a second with a burst of 4,000', () => {
    const op = defaultConfig().overloadProtection;
    assert.equal(op.maxFramesPerSecond, 2000);
    assert.equal(op.frameBurst, 4000);
  });
});

describe('effective start_timeout', () => {
  const floor = { floorMs: 1000 };
  it('is the configured value up to half of max_connections', () => {
    assert.equal(effectiveStartTimeoutMs(5000, 0, 1000, floor), 5000);
    assert.equal(effectiveStartTimeoutMs(5000, 500, 1000, floor), 5000);
  });
  it('shrinks linearly to the floor at max_connections and stays there beyond', () => {
    assert.equal(effectiveStartTimeoutMs(5000, 750, 1000, floor), 3000);
    assert.equal(effectiveStartTimeoutMs(5000, 900, 1000, floor), 1800);
    assert.equal(effectiveStartTimeoutMs(5000, 1000, 1000, floor), 1000);
    assert.equal(effectiveStartTimeoutMs(5000, 5000, 1000, floor), 1000);
    let last = Number.POSITIVE_INFINITY;
    for (let a = 0; a <= 1200; a += 7) {
      const t = effectiveStartTimeoutMs(5000, a, 1000, floor);
      assert.ok(t <= last && t >= 1000 && t <= 5000, `${a}: ${t}`);
      last = t;
    }
  });
  it('never lengthens a start_timeout already below the floor; other start shares', () => {
    assert.equal(effectiveStartTimeoutMs(500, 1000, 1000, floor), 500);
    assert.equal(effectiveStartTimeoutMs(500, 0, 1000, floor), 500);
    assert.equal(effectiveStartTimeoutMs(5000, 80, 100, { floorMs: 1000, fromShare: 0.6 }), 3000);
    assert.equal(effectiveStartTimeoutMs(5000, 99, 100, { floorMs: 1000, fromShare: 1 }), 5000);
    assert.equal(effectiveStartTimeoutMs(5000, 100, 100, { floorMs: 1000, fromShare: 1 }), 1000);
  });
});

describe('retry tokens', () => {
  const odcid = Buffer.from('0123456789abcdef0123', 'latin1');
  it('a token minted for an address and original dcid gives that dcid back', () => {
    const t = new RetryTokens(10_000);
    const tok = t.mint('192.0.2.7', 4433, odcid, 1_000_000);
    assert.deepEqual(t.validate(tok, '192.0.2.7', 4433, 1_000_000 + 9_999), odcid);
  });
  it('expires', () => {
    const t = new RetryTokens(10_000);
    const tok = t.mint('192.0.2.7', 4433, odcid, 1_000_000);
    assert.equal(t.validate(tok, '192.0.2.7', 4433, 1_000_000 + 10_001), null);
    assert.equal(t.validate(tok, '192.0.2.7', 4433, 1_000_000 - 5_000), null, 'minted in the future');
  });
  it('is refused from another address or port', () => {
    const t = new RetryTokens();
    const tok = t.mint('192.0.2.7', 4433, odcid, 0);
    assert.equal(t.validate(tok, '192.0.2.8', 4433, 0), null);
    assert.equal(t.validate(tok, '192.0.2.7', 4434, 0), null);
  });
  it('is refused when any byte is changed, truncated or extended, or from another process key', () => {
    const t = new RetryTokens();
    const tok = t.mint('192.0.2.7', 4433, odcid, 0);
    for (let i = 0; i < tok.length; i++) {
      const bad = Buffer.from(tok);
      bad[i]! ^= 0x01;
      assert.equal(t.validate(bad, '192.0.2.7', 4433, 0), null, `byte ${i}`);
    }
    assert.equal(t.validate(tok.subarray(0, tok.length - 1), '192.0.2.7', 4433, 0), null);
    assert.equal(t.validate(Buffer.concat([tok, Buffer.of(0)]), '192.0.2.7', 4433, 0), null);
    assert.equal(t.validate(Buffer.alloc(0), '192.0.2.7', 4433, 0), null);
    assert.equal(new RetryTokens().validate(tok, '192.0.2.7', 4433, 0), null);
  });
});

describe('EdgeGuard: per-source and half-open bounds', () => {
  const limits = (o: Partial<EdgeLimits> = {}): EdgeLimits => ({
    maxConnectionsPerIp: 0,
    maxHandshakesPerIp: 0,
    maxHandshakes: 0,
    maxConnections: 0,
    retryAboveRate: Number.POSITIVE_INFINITY,
    ...o,
  });

  it('half-open handshakes from one source are bounded; completing or dropping one frees its place', () => {
    const g = new EdgeGuard(limits({ maxHandshakesPerIp: 2, maxConnectionsPerIp: 3 }));
    g.opened('a');
    g.opened('a');
    assert.equal(g.refusal('a'), 'ip_handshakes');
    assert.equal(g.refusal('b'), null, 'another source is not affected');
    g.established('a');
    assert.equal(g.refusal('a'), null);
    g.opened('a');
    assert.equal(g.refusal('a'), 'ip_connections');
    g.closed('a', true);
    assert.equal(g.refusal('a'), null);
    assert.equal(g.handshaking, 1);
    g.closed('a', true);
    g.closed('a', false);
    assert.equal(g.connections, 0);
    assert.equal(g.handshaking, 0);
    assert.equal(g.trackedSources, 0, 'a source with nothing open is forgotten');
  });

  it('the global half-open cap and the connection cap hold across sources', () => {
    const g = new EdgeGuard(limits({ maxHandshakes: 3, maxConnections: 4 }));
    for (const s of ['a', 'b', 'c']) g.opened(s);
    assert.equal(g.refusal('d'), 'handshakes');
    g.established('a');
    g.opened('d');
    g.established('b');
    assert.equal(g.refusal('e'), 'max_connections');
  });

  it('retry: never, always (0), or above a rate of new connections a second', () => {
    assert.equal(new EdgeGuard(limits()).attempt(0), false);
    assert.equal(new EdgeGuard(limits({ retryAboveRate: 0 })).attempt(0), true);
    const g = new EdgeGuard(limits({ retryAboveRate: 5 }));
    const got = Array.from({ length: 8 }, (_, i) => g.attempt(i));
    assert.deepEqual(got, [false, false, false, false, false, true, true, true]);
    assert.equal(g.attempt(5000), false, 'a second later the rate is low again');
  });

  it('sources: an IPv4 address, an IPv6 /64, IPv4-mapped as IPv4', () => {
    assert.equal(sourceKey('192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(sourceKey('2001:db8:1:2:a::1'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8:1:2:ffff:1:2:3'), '2001:db8:1:2::/64');
    assert.equal(sourceKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(sourceKey('::1'), '0:0:0:0::/64');
  });
});

describe('edge limits from the configuration', () => {
  it('pre-START connections are capped at max_connections less the reserved share', () => {
    const op = { ...defaultConfig().overloadProtection, maxConnections: 40, reservedStartedPercent: 10 };
    assert.equal(listenerEdgeLimits(op).maxPreStart, 36);
    assert.equal(listenerEdgeLimits({ ...op, maxConnections: 1 }).maxPreStart, 1);
    const q = quicEdgeLimits(op);
    assert.equal(q.maxConnections, 40 + op.maxHandshakes);
    assert.equal(q.maxHandshakesPerIp, op.maxHandshakesPerIp);
  });
});
