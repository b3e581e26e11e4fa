/* biome-ignore-all lint/suspicious/noExplicitAny: JSON bodies of HTTP answers */
/**
 * The operations HTTP server against a running gateway with live sessions:
 * /health, /live, /stats, /performance, the admin API (auth, list, detail, kick),
 * the SSE stream of the inspector, and request logs without secrets.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { NotifySyncHint } from '../../src/protocol/codes.js';
import { NotifyMessage } from '../../src/protocol/messages.js';
import { authorizeAdmin } from '../../src/transport/http/admin.js';
import { HttpError } from '../../src/transport/http/respond.js';
import type { CloseInfo } from '../../src/transport/quic/types.js';
import { connectClient, login, startTestGateway, testConfig, waitFor } from '../helpers/gateway.js';

const TOKEN = 'op-token-4f1c9a77d2';
/** State-changing admin requests are JSON (a form or text/plain post is refused). */
const JSON_POST: RequestInit = { method: 'POST', headers: { 'content-type': 'application/json' } };

interface Http {
  status: number;
  headers: Headers;
  body: any;
}

async function call(
  gw: Gateway,
  path: string,
  init: RequestInit & { token?: string | null } = {},
): Promise<Http> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.set('authorization', `Bearer ${token}`);
  const res = await fetch(`http://127.0.0.1:${gw.addresses.http.port}${path}`, { ...init, headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (HTML page)
  }
  return { status: res.status, headers: res.headers, body };
}

/** Reads SSE events from a fetch body until `until` returns true for one. */
async function readEvents(
  res: Response,
  until: (ev: { event: string; data: any }) => boolean,
): Promise<Array<{ event: string; data: any }>> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const seen: Array<{ event: string; data: any }> = [];
  let buf = '';
  for (;;) {
    const r = await reader.read();
    if (r.done) throw new Error(`stream ended; saw ${seen.map((e) => e.event).join(',')}`);
    buf += decoder.decode(r.value, { stream: true });
    let cut = buf.indexOf('\n\n');
    while (cut >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      cut = buf.indexOf('\n\n');
      let event = 'message';
      let data = '';
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
      }
      if (data === '') continue;
      const ev = { event, data: JSON.parse(data) };
      seen.push(ev);
      if (until(ev)) {
        reader.releaseLock();
        return seen;
      }
    }
  }
}

describe('operations HTTP server', () => {
  let gw: Gateway;
  const logLines: string[] = [];
  let alice: GateClient;
  let bob: GateClient;

  before(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(line) });
    gw = await startTestGateway(
      { admin: { token: TOKEN, loopbackOnly: true }, inspector: { enabled: true } },
      { logger },
    );
    alice = await connectClient(gw, 'alice');
    await login(alice, '7');
    bob = await connectClient(gw, 'bob');
  });

  after(async () => {
    alice.close();
    bob.close();
    await gw.close();
  });

  test('bound addresses are exposed and /live answers', async () => {
    assert.ok(gw.addresses.http.port > 0);
    assert.ok(gw.addresses.metrics.port > 0);
    assert.notEqual(gw.addresses.http.port, gw.addresses.metrics.port);
    const live = await call(gw, '/live', { token: null });
    assert.equal(live.status, 200);
    assert.equal(live.body.status, 'alive');
  });

  test('/health is healthy once listening, 503 standby while not serving', async () => {
    const h = await call(gw, '/health', { token: null });
    assert.equal(h.status, 200);
    assert.deepEqual(h.body, { status: 'healthy' });
    gw.http.setServing(false);
    try {
      const s = await call(gw, '/health', { token: null });
      assert.equal(s.status, 503);
      assert.deepEqual(s.body, { status: 'standby' });
      assert.equal(gw.http.serving, false);
    } finally {
      gw.http.setServing(true);
    }
    assert.equal((await call(gw, '/health', { token: null })).status, 200);
  });

  test('unknown routes are 404 and wrong methods 405, as JSON', async () => {
    const nf = await call(gw, '/nope', { token: null });
    assert.equal(nf.status, 404);
    assert.equal(nf.body.error, 'not_found');
    const post = await call(gw, '/health', { method: 'POST', token: null });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    assert.equal(post.body.error, 'method_not_allowed');
  });

  test('/stats counts connections, sessions by phase and link, zones, upstreams', async () => {
    const st = await call(gw, '/stats', { token: null });
    assert.equal(st.status, 200);
    assert.equal(st.body.connections, 2);
    assert.equal(st.body.sessions.total, 2);
    assert.deepEqual(st.body.sessions.byPhase, { inited: 1, normal: 1 });
    assert.equal(st.body.sessions.attached, 2);
    assert.equal(st.body.sessions.detached, 0);
    assert.deepEqual(st.body.zones, { '7': 1 });
    for (const svc of ['hello', 'business', 'zone']) {
      assert.ok(Array.isArray(st.body.upstream[svc]) && st.body.upstream[svc].length > 0, svc);
      assert.equal(st.body.upstream[svc][0].healthy, true);
    }
    assert.equal(typeof st.body.async.completed, 'number');
    assert.ok(st.body.async.completed >= 1);
    assert.deepEqual(st.body.inspector, { enabled: true, subscribers: 0 });
  });

  test('/performance reports QPS, latency percentiles and throughput after traffic', async () => {
    for (let i = 0; i < 5; i++) {
      const a = await alice.request('echo', { i: String(i) });
      assert.equal(a.code, 0);
    }
    const p = await call(gw, '/performance', { token: null });
    assert.equal(p.status, 200);
    assert.ok(p.body.qps.requests > 0);
    assert.ok(p.body.qps.business > 0);
    assert.ok(p.body.latencyMs.count >= 6, `latency samples ${p.body.latencyMs.count}`);
    assert.ok(p.body.latencyMs.p50 > 0);
    assert.ok(p.body.latencyMs.p50 <= p.body.latencyMs.p90);
    assert.ok(p.body.latencyMs.p90 <= p.body.latencyMs.p99);
    assert.ok(p.body.latencyMs.p99 <= p.body.latencyMs.max);
    assert.ok(p.body.throughput.pushesPerSecond > 0);
    assert.ok(p.body.totals.pushes >= 6);
    assert.ok(p.body.totals.bytesSent > 0 && p.body.totals.bytesReceived > 0);
    assert.ok(p.body.windowSeconds >= 0);
  });

  test('admin API: no token 401, bad token 403, good token 200', async () => {
    const none = await call(gw, '/admin/sessions', { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.body.error, 'unauthorized');
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
    const notBearer = await call(gw, '/admin/sessions', {
      token: null,
      headers: { authorization: `Basic ${TOKEN}` },
    });
    assert.equal(notBearer.status, 401);
    const bad = await call(gw, '/admin/sessions', { token: 'wrong-token' });
    assert.equal(bad.status, 403);
    assert.equal(bad.body.error, 'forbidden');
    const ok = await call(gw, '/admin/sessions');
    assert.equal(ok.status, 200);
    // The SSE stream and kick are admin routes too.
    assert.equal((await call(gw, '/admin/events', { token: null })).status, 401);
    assert.equal((await call(gw, '/admin/sessions/x/kick', { method: 'POST', token: 'nope' })).status, 403);
  });

  test('admin access rules without a token: loopback only unless loopback_only is off', () => {
    const req = (remoteAddress: string, authorization?: string) =>
      ({
        headers: authorization ? { authorization } : {},
        socket: { remoteAddress },
      }) as unknown as IncomingMessage;
    const loopbackOnly = testConfig({ admin: { token: '', loopbackOnly: true } });
    for (const addr of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) authorizeAdmin(req(addr), loopbackOnly);
    for (const addr of ['10.0.0.5', '::ffff:192.168.1.2', '2001:db8::1']) {
      assert.throws(
        () => authorizeAdmin(req(addr), loopbackOnly),
        (e: unknown) => e instanceof HttpError && e.status === 403,
      );
    }
    const open = testConfig({ admin: { token: '', loopbackOnly: false } });
    authorizeAdmin(req('10.0.0.5'), open);
    // With a token, the token decides, from any peer.
    const withToken = testConfig({ admin: { token: 't0k', loopbackOnly: true } });
    authorizeAdmin(req('10.0.0.5', 'Bearer t0k'), withToken);
    assert.throws(
      () => authorizeAdmin(req('127.0.0.1'), withToken),
      (e: unknown) => e instanceof HttpError && e.status === 401,
    );
  });

  test('GET /admin/sessions lists and filters (openid, phase, limit); bad queries are 400', async () => {
    const all = await call(gw, '/admin/sessions');
    assert.equal(all.body.total, 2);
    assert.deepEqual(all.body.sessions.map((s: { openid: string }) => s.openid).sort(), ['alice', 'bob']);
    const a = await call(gw, '/admin/sessions?openid=alice');
    assert.equal(a.body.count, 1);
    assert.equal(a.body.sessions[0].sessionId, alice.sessionId);
    assert.equal(a.body.sessions[0].phase, 'normal');
    assert.deepEqual(a.body.sessions[0].state, ['active.phase.normal', 'active.link.attached']);
    const inited = await call(gw, '/admin/sessions?phase=inited');
    assert.deepEqual(
      inited.body.sessions.map((s: { openid: string }) => s.openid),
      ['bob'],
    );
    const one = await call(gw, '/admin/sessions?limit=1');
    assert.equal(one.body.count, 1);
    assert.equal(one.body.total, 2);
    assert.equal((await call(gw, '/admin/sessions?openid=nobody')).body.count, 0);
    assert.equal((await call(gw, '/admin/sessions?phase=weird')).status, 400);
    assert.equal((await call(gw, '/admin/sessions?limit=0')).status, 400);
    assert.equal((await call(gw, '/admin/sessions?limit=abc')).status, 400);
    assert.equal((await call(gw, '/admin/sessions', { method: 'DELETE' })).status, 405);
  });

  test('GET /admin/sessions/:id is one actor snapshot: state, seqs, pending pushes, in-flight, held', async () => {
    // A notify held for an in-flight request, and unacknowledged pushes.
    const slow = await connectClient(gw, 'carol', { ackEvery: 1000, ackDelayMs: 60_000 });
    try {
      await login(slow, '3');
      const pending = slow.request('sleep', { ms: '2000' });
      await waitFor(
        () => (gw.system.findByOpenid('carol')?.state.inflight.size ?? 0) === 1,
        5000,
        'in-flight',
      );
      const carol = gw.system.findByOpenid('carol')!;
      const held = await gw.system.push(
        { kind: 'openid', id: 'carol' },
        NotifyMessage.encode({ msgType: 'ops', content: 'held' }),
        NotifySyncHint.AFTER_RESPONSE,
        carol.state.lastClientSeq,
      );
      assert.equal(held.ok, true);
      const d = await call(gw, `/admin/sessions/${carol.sessionId}`);
      assert.equal(d.status, 200);
      const s = d.body.session;
      const sum = carol.summary();
      assert.equal(s.sessionId, carol.sessionId);
      assert.equal(s.openid, 'carol');
      assert.deepEqual(s.machine, carol.stateValue);
      assert.deepEqual(s.state, ['active.phase.normal', 'active.link.attached']);
      assert.equal(s.nextSeq, sum.nextSeq);
      assert.equal(s.lastAckedSeq, sum.lastAckedSeq);
      assert.equal(s.lastClientSeq, 2);
      assert.deepEqual(s.pendingSeqs, sum.pendingSeqs);
      assert.equal(s.pending, sum.pending);
      assert.ok(s.pendingPushes.length >= 1);
      assert.equal(s.pendingPushes[0].seq, sum.pendingSeqs[0]);
      assert.deepEqual(s.inflight, [2]);
      assert.equal(s.inflightRequests[0].clientSeq, 2);
      assert.equal(s.held, 1);
      assert.deepEqual(s.heldNotifies, [{ clientSeq: 2, count: 1, hints: [NotifySyncHint.AFTER_RESPONSE] }]);
      await pending;
    } finally {
      slow.close();
    }
    const missing = await call(gw, '/admin/sessions/no-such-session');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'session_not_found');
  });

  test('POST /admin/sessions/:id/kick closes the client and the session is gone', async () => {
    const dave = await connectClient(gw, 'dave');
    const closed = new Promise<CloseInfo>((resolve) => dave.onClose(resolve));
    const id = dave.sessionId;
    assert.ok(gw.system.get(id));
    assert.equal((await call(gw, `/admin/sessions/${id}/kick`)).status, 405);
    const k = await call(gw, `/admin/sessions/${id}/kick`, JSON_POST);
    assert.equal(k.status, 200);
    assert.deepEqual(k.body, { kicked: true, sessionId: id, openid: 'dave' });
    const info = await closed;
    assert.equal(info.code, 0);
    await waitFor(() => gw.system.get(id) === undefined, 5000, 'session removed');
    assert.equal((await call(gw, `/admin/sessions/${id}`)).status, 404);
    assert.equal((await call(gw, `/admin/sessions/${id}/kick`, JSON_POST)).status, 404);
    assert.equal((await call(gw, '/admin/sessions?openid=dave')).body.count, 0);
  });

  test('GET /admin/events streams session changes from the actor inspector', async () => {
    const ctl = new AbortController();
    const res = await fetch(`http://127.0.0.1:${gw.addresses.http.port}/admin/events`, {
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: ctl.signal,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    try {
      const first = await readEvents(res, (e) => e.event === 'snapshot');
      const snap = first.at(-1)!.data;
      assert.ok(snap.sessions.some((s: { openid: string }) => s.openid === 'alice'));
      const st = await call(gw, '/stats', { token: null });
      assert.equal(st.body.inspector.subscribers, 1);

      const erin = await connectClient(gw, 'erin');
      const inited = await readEvents(
        res,
        (e) => e.event === 'session' && e.data.session.openid === 'erin' && e.data.session.phase === 'inited',
      );
      assert.ok(inited.at(-1)!.data.events.includes('ATTACH'));
      await login(erin, '2');
      const normal = await readEvents(
        res,
        (e) => e.event === 'session' && e.data.session.openid === 'erin' && e.data.session.phase === 'normal',
      );
      assert.equal(normal.at(-1)!.data.session.zone, 2);
      await call(gw, `/admin/sessions/${erin.sessionId}/kick`, JSON_POST);
      const removed = await readEvents(res, (e) => e.event === 'removed' && e.data.openid === 'erin');
      assert.equal(removed.at(-1)!.data.reason, 'admin_kick');
      erin.close();
    } finally {
      ctl.abort();
    }
  });

  test('GET / serves the operator page', async () => {
    const page = await call(gw, '/', { token: null });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(String(page.body), /GateSvr operator/);
    assert.match(String(page.body), /\/admin\/events/);
  });

  test('request logs carry method, path and status, never the admin token', async () => {
    await call(gw, '/admin/sessions?openid=alice');
    await call(gw, '/admin/sessions', { token: 'a-wrong-token-xyz' });
    await waitFor(() => logLines.some((l) => l.includes('"http request"')), 5000, 'request log');
    const reqLogs = logLines.filter((l) => l.includes('"http request"'));
    const parsed = reqLogs.map((l) => JSON.parse(l));
    assert.ok(parsed.some((p) => p.path === '/admin/sessions' && p.status === 200 && p.method === 'GET'));
    assert.ok(parsed.some((p) => p.status === 403));
    const all = logLines.join('\n');
    assert.ok(!all.includes(TOKEN), 'admin token leaked into logs');
    assert.ok(!all.includes('a-wrong-token-xyz'), 'presented token leaked into logs');
    assert.ok(!all.toLowerCase().includes('bearer'), 'authorization header leaked into logs');
  });
});

describe('admin API without a token (loopback only)', () => {
  test('loopback clients are served; the SSE stream is 404 while the inspector is off', async () => {
    const gw = await startTestGateway({
      admin: { token: '', loopbackOnly: true },
      inspector: { enabled: false },
    });
    try {
      const c = await connectClient(gw, 'frank');
      const list = await call(gw, '/admin/sessions', { token: null });
      assert.equal(list.status, 200);
      assert.equal(list.body.sessions[0].openid, 'frank');
      const ev = await call(gw, '/admin/events', { token: null });
      assert.equal(ev.status, 404);
      assert.equal(ev.body.error, 'inspector_disabled');
      const st = await call(gw, '/stats', { token: null });
      assert.deepEqual(st.body.inspector, { enabled: false, subscribers: 0 });
      c.close();
    } finally {
      await gw.close();
    }
  });
});
