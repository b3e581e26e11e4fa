/**
 * Prometheus /metrics on metrics_addr: the seed's names with their types, and
 * values that move when traffic flows (requests, upstream calls, pushes, ACKs,
 * resumes, takeovers, retransmissions, overload refusals).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { NotifySyncHint } from '../../src/protocol/codes.js';
import { NotifyMessage } from '../../src/protocol/messages.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';

async function scrape(gw: Gateway): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${gw.addresses.metrics.port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return res.text();
}

/** The value of one sample; labels must all match (others, like server_id, are ignored). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) have[pair[1]!] = pair[2]!;
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(m[4]);
  }
  return Number.NaN;
}

function type(text: string, name: string): string | undefined {
  return new RegExp(`^# TYPE ${name} (\\w+)$`, 'm').exec(text)?.[1];
}

/** Polls scrapes until `cond` holds (metrics from effects land asynchronously). */
async function scrapeUntil(gw: Gateway, cond: (text: string) => boolean, what: string): Promise<string> {
  for (let i = 0; i < 500; i++) {
    const text = await scrape(gw);
    if (cond(text)) return text;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`metrics never showed ${what}`);
}

describe('Prometheus metrics', () => {
  let gw: Gateway;
  const clients: GateClient[] = [];

  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    for (const c of clients) c.close();
    await gw.close();
  });

  test('seed metric names are exposed with their types, plus default process metrics', async () => {
    const text = await scrape(gw);
    const expected: Record<string, string> = {
      gatesvr_active_connections: 'gauge',
      gatesvr_total_requests: 'counter',
      gatesvr_request_duration: 'histogram',
      gatesvr_upstream_requests: 'counter',
      gatesvr_message_queue_size: 'gauge',
      gatesvr_session_count: 'gauge',
      gatesvr_async_queue_size: 'gauge',
      gatesvr_async_tasks_total: 'counter',
      gatesvr_async_task_duration: 'histogram',
      gatesvr_service_distribution: 'gauge',
      gatesvr_pushes_total: 'counter',
      gatesvr_frames_sent_total: 'counter',
      gatesvr_retransmissions_total: 'counter',
      gatesvr_ack_round_trip: 'histogram',
      gatesvr_session_resumes_total: 'counter',
      gatesvr_session_takeovers_total: 'counter',
      gatesvr_overload_refusals_total: 'counter',
      gatesvr_quic_bytes_total: 'counter',
      process_cpu_seconds_total: 'counter',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, t] of Object.entries(expected)) assert.equal(type(text, name), t, name);
    assert.equal(value(text, 'gatesvr_active_connections'), 0);
    assert.match(text, /server_id="gate-001"/);
  });

  test('values move when traffic flows', async () => {
    const before = await scrape(gw);
    const c = await connectClient(gw, 'm-alice');
    clients.push(c);
    await login(c, '4');
    for (let i = 0; i < 3; i++) assert.equal((await c.request('echo', { i: String(i) })).code, 0);
    const pushed = await gw.system.push(
      { kind: 'openid', id: 'm-alice' },
      NotifyMessage.encode({ msgType: 't', content: 'hi' }),
      NotifySyncHint.IMMEDIATELY,
      0,
    );
    assert.equal(pushed.ok, true);
    await c.nextNotify();
    c.ackNow();
    // The ACK reaches the gateway asynchronously: wait for the session to have applied it (an
    // earlier answer's ACK alone can already satisfy the round-trip condition below).
    await waitFor(
      () => gw.system.findByOpenid('m-alice')?.state.queue.size === 0,
      10_000,
      'the ACK of every push applied',
    );

    const text = await scrapeUntil(
      gw,
      (t) => value(t, 'gatesvr_ack_round_trip_count') >= 1,
      'an ACK round trip sample',
    );
    const d = (name: string, labels: Record<string, string> = {}) =>
      value(text, name, labels) - (value(before, name, labels) || 0);

    assert.equal(value(text, 'gatesvr_active_connections'), 1);
    assert.equal(value(text, 'gatesvr_serving'), 1, 'a gateway alone serves');
    assert.equal(value(text, 'gatesvr_event_log_available'), 1);
    assert.equal(value(text, 'gatesvr_session_count', { phase: 'normal' }), 1);
    assert.equal(value(text, 'gatesvr_session_count', { phase: 'inited' }), 0);
    assert.equal(d('gatesvr_total_requests', { type: 'business' }), 4);
    assert.equal(d('gatesvr_total_requests', { type: 'start' }), 1);
    assert.ok(d('gatesvr_total_requests', { type: 'ack' }) >= 1);
    assert.equal(d('gatesvr_request_duration_count', { service: 'hello' }), 1);
    assert.equal(d('gatesvr_request_duration_count', { service: 'zone' }), 3);
    assert.equal(d('gatesvr_upstream_requests', { service: 'zone', outcome: 'ok' }), 3);
    assert.equal(d('gatesvr_async_task_duration_count', { service: 'zone' }), 3);
    assert.equal(d('gatesvr_async_tasks_total', { status: 'completed' }), 4);
    assert.equal(d('gatesvr_pushes_total', { kind: 'answer' }), 4);
    assert.equal(d('gatesvr_pushes_total', { kind: 'notify' }), 1);
    assert.ok(d('gatesvr_frames_sent_total') >= 6, 'START_RESP + 4 answers + 1 notify');
    assert.equal(d('gatesvr_sessions_created_total'), 1);
    assert.equal(d('gatesvr_connections_total'), 1);
    assert.ok(d('gatesvr_quic_bytes_total', { direction: 'sent' }) > 0);
    assert.ok(d('gatesvr_quic_bytes_total', { direction: 'received' }) > 0);
    assert.ok(d('gatesvr_quic_packets_total', { direction: 'sent' }) > 0);
    assert.equal(value(text, 'gatesvr_message_queue_size'), 0, 'everything acknowledged');
    assert.ok(value(text, 'gatesvr_request_duration_sum', { service: 'zone' }) > 0);
  });

  test('resumes and takeovers are counted', async () => {
    const before = await scrape(gw);
    const first = await connectClient(gw, 'm-bob');
    const id = first.sessionId;
    // Takeover: a second connection STARTs the same openid while the first is attached.
    const second = await connectClient(gw, 'm-bob');
    assert.equal(second.sessionId, id);
    assert.equal(second.resumed, true);
    first.close();
    // Resume: the connection goes away, a new one STARTs within resume_window.
    second.close();
    await waitFor(() => gw.system.get(id)?.state.attached === false, 5000, 'detached');
    const third = await connectClient(gw, 'm-bob');
    clients.push(third);
    assert.equal(third.sessionId, id);
    const text = await scrapeUntil(
      gw,
      (t) =>
        value(t, 'gatesvr_session_resumes_total') > (value(before, 'gatesvr_session_resumes_total') || 0),
      'a resume',
    );
    assert.equal(
      value(text, 'gatesvr_session_takeovers_total') - value(before, 'gatesvr_session_takeovers_total'),
      1,
    );
    assert.equal(
      value(text, 'gatesvr_session_resumes_total') - value(before, 'gatesvr_session_resumes_total'),
      1,
    );
    assert.ok(value(text, 'gatesvr_session_link_closes_total', { code: 'session_taken_over' }) >= 1);
  });
});

describe('Prometheus metrics under failure', () => {
  test('unacknowledged pushes are retransmitted, then the link closes with ACK timeout', async () => {
    const gw = await startTestGateway({ server: { ackTimeoutMs: 30, maxRetries: 2 } });
    try {
      const c = await connectClient(gw, 'm-slow', { ackEvery: 1_000_000, ackDelayMs: 600_000 });
      await login(c, '1');
      const text = await scrapeUntil(
        gw,
        (t) => value(t, 'gatesvr_session_link_closes_total', { code: 'ack_timeout' }) >= 1,
        'an ACK-timeout close',
      );
      assert.ok(value(text, 'gatesvr_retransmissions_total') >= 2, 'two retries before giving up');
      assert.equal(value(text, 'gatesvr_ack_round_trip_count'), 0, 'no ACK, no round-trip sample');
      assert.equal(value(text, 'gatesvr_detached_sessions'), 1);
      assert.ok(value(text, 'gatesvr_message_queue_size') >= 1, 'the answer stays queued for a resume');
      c.close();
    } finally {
      await gw.close();
    }
  });

  test('connections refused by overload protection are counted', async () => {
    const gw = await startTestGateway({
      overloadProtection: { enabled: true, maxConnections: 1, connectionWarningThreshold: 1 },
    });
    try {
      const a = await connectClient(gw, 'm-one');
      await assert.rejects(connectClient(gw, 'm-two'));
      const text = await scrapeUntil(
        gw,
        (t) => value(t, 'gatesvr_overload_refusals_total', { kind: 'connection' }) >= 1,
        'a refused connection',
      );
      assert.equal(value(text, 'gatesvr_overload_refusals_total', { kind: 'connection' }), 1);
      gw.metrics.overloadRefused('request', 2);
      const again = await scrape(gw);
      assert.equal(value(again, 'gatesvr_overload_refusals_total', { kind: 'request' }), 2);
      a.close();
    } finally {
      await gw.close();
    }
  });

  test('/metrics answers 404 elsewhere and 405 to other methods', async () => {
    const gw = await startTestGateway();
    try {
      const base = `http://127.0.0.1:${gw.addresses.metrics.port}`;
      assert.equal((await fetch(`${base}/other`)).status, 404);
      const post = await fetch(`${base}/metrics`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
    } finally {
      await gw.close();
    }
  });
});
