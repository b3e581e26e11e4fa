/**
 * deploy/grafana/gatesvr.json names only metrics a real gateway exposes: every
 * PromQL expression of every panel (and of the dashboard variables) is parsed for
 * metric names, and each must be in a /metrics scrape taken after a session, a
 * request and an acknowledged push (so labelled series exist).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { NotifySyncHint } from '../../src/protocol/codes.js';
import { NotifyMessage } from '../../src/protocol/messages.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';

const DASHBOARD = new URL('../../deploy/grafana/gatesvr.json', import.meta.url);

interface Panel {
  type: string;
  title?: string;
  targets?: Array<{ expr?: string }>;
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: Array<{ name: string; definition?: string; query?: string | { query: string } }> };
}

/** Words that are PromQL syntax, not series names (functions are told apart by their "("). */
const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'and',
  'or',
  'unless',
  'offset',
  'atan2',
  'inf',
  'nan',
]);

/**
 * Metric names in one PromQL expression: label matchers, range/subquery brackets,
 * grouping label lists and strings are removed first; what is left followed by "("
 * is a function call, any other identifier (outside keywords) a metric name.
 */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\w+/g, ' ');
  const out = new Set<string>();
  for (const m of stripped.matchAll(/(?<![\w.:])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const word = m[1]!;
    if (m[2] || KEYWORDS.has(word.toLowerCase()) || /^\d/.test(word)) continue;
    out.add(word);
  }
  return [...out];
}

/** Every PromQL expression of the dashboard: panel targets (rows included) and query variables. */
function expressions(dash: Dashboard): Array<{ where: string; expr: string }> {
  const out: Array<{ where: string; expr: string }> = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  for (const v of dash.templating.list) {
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? v.definition);
    // label_values(metric, label): the metric is what must exist.
    const lv = q ? /^label_values\(\s*([^,)]+)/.exec(q) : null;
    if (lv) out.push({ where: `variable $${v.name}`, expr: lv[1]! });
  }
  return out;
}

/** Names a scrape exposes: sample names, and declared families (a histogram as its three series). */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\w+)$/.exec(line);
    if (type) {
      // A histogram is queried through its series (_bucket, _sum, _count), never by its family name.
      if (type[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${type[1]}${s}`);
      else names.add(type[1]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)[{ ]/.exec(line);
    if (sample) names.add(sample[1]!);
  }
  return names;
}

/** Names in the dashboard that the scrape does not expose, with where they are used. */
function missingNames(dash: Dashboard, exposed: Set<string>): string[] {
  const missing: string[] = [];
  for (const { where, expr } of expressions(dash)) {
    const names = metricNames(expr);
    assert.ok(names.length > 0, `${where}: no metric name found in ${expr}`);
    for (const n of names) if (!exposed.has(n)) missing.push(`${where}: ${n}`);
  }
  return missing;
}

let gw: Gateway;
let client: GateClient;
let scrapeText = '';

before(async () => {
  gw = await startTestGateway();
  client = await connectClient(gw, 'grafana-alice');
  await login(client, '2');
  assert.equal((await client.request('echo', { n: '1' })).code, 0);
  const pushed = await gw.system.push(
    { kind: 'openid', id: 'grafana-alice' },
    NotifyMessage.encode({ msgType: 't', content: 'hi' }),
    NotifySyncHint.IMMEDIATELY,
    0,
  );
  assert.equal(pushed.ok, true);
  await client.nextNotify();
  client.ackNow();
  await waitFor(
    () => gw.system.findByOpenid('grafana-alice')?.state.queue.size === 0,
    10_000,
    'the ACK applied',
  );
  const res = await fetch(`http://127.0.0.1:${gw.addresses.metrics.port}/metrics`);
  assert.equal(res.status, 200);
  scrapeText = await res.text();
});

after(async () => {
  client?.close();
  await gw?.close();
});

test('the PromQL name parser finds metrics and skips functions, labels, keywords and durations', () => {
  assert.deepEqual(
    metricNames(
      'histogram_quantile(0.99, sum by (le, service) (rate(gatesvr_request_duration_bucket{server_id=~"$server_id"}[$__rate_interval])))',
    ),
    ['gatesvr_request_duration_bucket'],
  );
  assert.deepEqual(
    metricNames(
      'sum by (server_id) (a_total) / on (server_id) group_left sum without (x) (b offset 5m) > bool 0.5',
    ),
    ['a_total', 'b'],
  );
  assert.deepEqual(metricNames('c{type="ack"} or d[5m] and e'), ['c', 'd', 'e']);
});

test('every metric the dashboard queries is exposed by a running gateway', () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  const exposed = exposedNames(scrapeText);
  // The scrape itself carries the series the traffic made (labelled samples, histogram buckets).
  assert.ok(exposed.has('gatesvr_request_duration_bucket'));
  assert.match(scrapeText, /^gatesvr_session_count\{[^}]*phase="normal"[^}]*\} 1$/m);
  assert.match(scrapeText, /^gatesvr_pushes_total\{[^}]*kind="notify"/m);
  assert.deepEqual(missingNames(dash, exposed), []);

  // The topics the dashboard is for are covered.
  const used = new Set(expressions(dash).flatMap((e) => metricNames(e.expr)));
  for (const name of [
    'gatesvr_session_count',
    'gatesvr_detached_sessions',
    'gatesvr_active_connections',
    'gatesvr_total_requests',
    'gatesvr_request_duration_bucket',
    'gatesvr_pushes_total',
    'gatesvr_retransmissions_total',
    'gatesvr_message_queue_size',
    'gatesvr_upstream_requests',
    'gatesvr_overload_refusals_total',
    'gatesvr_edge_refusals_total',
  ])
    assert.ok(used.has(name), `the dashboard shows ${name}`);
});

test('a panel naming a metric the gateway does not expose is reported', () => {
  const dash = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
  dash.panels.push({
    type: 'timeseries',
    title: 'invented',
    targets: [{ expr: 'sum(rate(gatesvr_lease_failovers_total{server_id=~"$server_id"}[5m]))' }],
  });
  assert.deepEqual(missingNames(dash, exposedNames(scrapeText)), [
    'panel "invented": gatesvr_lease_failovers_total',
  ]);
});
