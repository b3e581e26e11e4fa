/**
 * Overload limits over real QUIC (docs/protocol.md section 6): each is tripped and
 * answered with its code while another session keeps working.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { ClientClosedError, type GateClient } from '../../src/client/gate-client.js';
import { GateError } from '../../src/errors.js';
import type { Gateway } from '../../src/gateway.js';
import { startGateway } from '../../src/gateway.js';
import { CloseCode, ErrorCode } from '../../src/protocol/codes.js';
import { connectClient, login, startTestGateway, testConfig, waitFor } from '../helpers/gateway.js';

const gateways: Gateway[] = [];
const clients: GateClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const g of gateways) await g.close();
});

async function gateway(patch: Parameters<typeof startTestGateway>[0]): Promise<Gateway> {
  const gw = await startTestGateway(patch);
  gateways.push(gw);
  return gw;
}

async function client(gw: Gateway, openid: string): Promise<GateClient> {
  const c = await connectClient(gw, openid);
  clients.push(c);
  return c;
}

/** Settles every request: 'ok' or the GateError code. */
async function burst(c: GateClient, n: number, action = 'echo', params: Record<string, string> = {}) {
  const results = await Promise.allSettled(Array.from({ length: n }, () => c.request(action, params)));
  return results.map((r) => {
    if (r.status === 'fulfilled') return r.value.code === 0 ? 'ok' : `code ${r.value.code}`;
    return r.reason instanceof GateError ? r.reason.code : String(r.reason);
  });
}

const count = (xs: unknown[], v: unknown) => xs.filter((x) => x === v).length;

/** Waits until a request for `action` is served again, sending one per poll until one is. */
async function servedAgain(c: GateClient, action: string, what: string): Promise<void> {
  let served = false;
  await waitFor(
    () => {
      if (!served)
        c.request(action).then(
          () => (served = true),
          () => {},
        );
      return served;
    },
    20_000,
    what,
  );
}

describe('overload protection over QUIC', () => {
  it('max_connections: a further connection gets 429 and close 0x03; admitted sessions go on', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const cfg = testConfig({ overloadProtection: { maxConnections: 2, connectionWarningThreshold: 2 } });
    const gw = await startGateway(cfg, { logger: pino({ level: 'warn' }, sink) });
    gateways.push(gw);
    const a = await client(gw, 'conn-a');
    const b = await client(gw, 'conn-b');
    await login(a);
    await assert.rejects(connectClient(gw, 'conn-c'), (err: unknown) => {
      assert.ok(err instanceof ClientClosedError, String(err));
      assert.equal(err.info.code, CloseCode.OVERLOADED);
      assert.equal(err.info.isApp, true);
      return true;
    });
    assert.equal((await a.request('echo', {}, Buffer.from('still here'))).code, 0);
    assert.equal((await b.heartbeat()).serverTimestamp > 0, true);
    const s = gw.overload!.stats();
    assert.equal(s.refusedConnections, 1);
    assert.equal(s.connections, 2);
    assert.ok(
      lines.some((l) => l.includes('overload warning: connections')),
      'warning logged',
    );
    // A slot freed is a slot usable again.
    a.close();
    await waitFor(() => gw.listener.connectionCount === 1, 10_000, 'a gone');
    const c = await client(gw, 'conn-c');
    await login(c);
  });

  it('max_session_qps: a noisy session gets 429, a quiet one is served in full', async () => {
    const gw = await gateway({ overloadProtection: { maxSessionQps: 5, maxQps: 10_000 } });
    const noisy = await client(gw, 'noisy');
    const quiet = await client(gw, 'quiet');
    await login(noisy);
    await login(quiet);
    const loud = await burst(noisy, 40);
    assert.ok(count(loud, ErrorCode.OVERLOADED) >= 20, `noisy: ${loud.join(',')}`);
    assert.ok(count(loud, 'ok') >= 1);
    // The quiet session's own budget is untouched by the noisy one.
    const calm = await burst(quiet, 3);
    assert.deepEqual(calm, ['ok', 'ok', 'ok']);
    assert.ok(gw.overload!.stats().refusedBySession >= 20);
    // The noisy session is not cut off: it is served again once its bucket refills.
    await servedAgain(noisy, 'echo', 'noisy served again');
  });

  it('max_qps over the sliding window: 429 gateway-wide, then served again as the window slides', async () => {
    const gw = await gateway({
      overloadProtection: { maxQps: 10, qpsWindowSeconds: 1, maxSessionQps: 1000, qpsWarningThreshold: 5 },
    });
    const a = await client(gw, 'qps-a');
    const b = await client(gw, 'qps-b');
    const flood = await burst(a, 60, 'status');
    assert.ok(count(flood, ErrorCode.OVERLOADED) >= 40, flood.join(','));
    assert.ok(count(flood, 'ok') >= 1);
    // The other session's connection is intact (heartbeats are not rate limited)...
    assert.ok((await b.heartbeat()).serverTimestamp > 0);
    // ...and its requests are served once the window has room again.
    await servedAgain(b, 'status', 'b served');
    const s = gw.overload!.stats();
    assert.ok(s.refusedRequests >= 40);
    assert.ok(s.warningsByKind.qps >= 1);
  });

  it('max_upstream_concurrent + max_upstream_queue: 429 when the queue is full, other sessions answered', async () => {
    const gw = await gateway({ overloadProtection: { maxUpstreamConcurrent: 1, maxUpstreamQueue: 2 } });
    const a = await client(gw, 'up-a');
    const b = await client(gw, 'up-b');
    await login(a);
    await login(b);
    const slow = burst(a, 8, 'sleep', { ms: '300' });
    const res = await slow;
    assert.ok(count(res, ErrorCode.OVERLOADED) >= 4, res.join(','));
    assert.ok(count(res, 'ok') >= 1);
    assert.equal((await b.request('echo')).code, 0);
  });

  it('upstream_timeout: a slow upstream answers 504; the session goes on', async () => {
    const gw = await gateway({ overloadProtection: { upstreamTimeoutMs: 300 } });
    const a = await client(gw, 'to-a');
    await login(a);
    await assert.rejects(a.request('sleep', { ms: '5000' }), (err: unknown) => {
      assert.ok(err instanceof GateError);
      assert.equal(err.code, ErrorCode.UPSTREAM_TIMEOUT);
      return true;
    });
    assert.equal((await a.request('echo')).code, 0);
  });

  it('enabled: false lifts the limits', async () => {
    const gw = await gateway({ overloadProtection: { enabled: false, maxConnections: 1, maxSessionQps: 1 } });
    const a = await client(gw, 'off-a');
    const b = await client(gw, 'off-b');
    await login(a);
    assert.deepEqual(await burst(b, 5, 'status'), ['ok', 'ok', 'ok', 'ok', 'ok']);
  });
});
