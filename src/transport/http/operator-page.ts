/**
 * The operator page served at GET / on http_addr: one static HTML file with its
 * script inline (no build step; kept as a string so it ships inside dist/).
 *
 * It lists sessions and shows one actor live: with inspector.enabled it reads the
 * SSE stream GET /admin/events (through fetch, so the admin token travels in the
 * Authorization header, never in a URL); otherwise it polls /admin/sessions.
 * Everything is rendered with textContent (openids are user data).
 *
 * The page is served under OPERATOR_PAGE_CSP: its one inline <style> and one inline
 * <script> are allowed by their SHA-256 hashes, nothing else runs or loads, and
 * no other page may frame it (the kick button cannot be clickjacked). The kick
 * button posts JSON: the admin API refuses state-changing requests of any other
 * content type (no cross-site form or text/plain post can reach it).
 */
import { createHash } from 'node:crypto';

export const OPERATOR_PAGE_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>GateSvr operator</title>
<style>
  :root { font-family: system-ui, sans-serif; font-size: 14px; color: #1d232a; background: #f6f7f9; }
  body { margin: 0; }
  header { display: flex; gap: 16px; align-items: center; padding: 10px 16px; background: #1d232a; color: #fff; flex-wrap: wrap; }
  header h1 { font-size: 16px; margin: 0 12px 0 0; }
  header input { width: 220px; }
  .pill { padding: 2px 8px; border-radius: 10px; background: #3a4450; font-size: 12px; }
  .pill.ok { background: #2e7d32; } .pill.warn { background: #b26a00; } .pill.bad { background: #b3261e; }
  main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 16px; padding: 16px; }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 12px; overflow: auto; }
  h2 { font-size: 14px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid #eef0f3; white-space: nowrap; font-variant-numeric: tabular-nums; }
  tbody tr { cursor: pointer; } tbody tr:hover { background: #f0f4ff; } tbody tr.selected { background: #dbe6ff; }
  .phase-inited { color: #b26a00; } .phase-normal { color: #2e7d32; }
  .mono { font-family: ui-monospace, monospace; font-size: 12px; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px; margin: 0; }
  dt { color: #5b6570; } dd { margin: 0; word-break: break-all; }
  #events { max-height: 220px; overflow: auto; margin: 8px 0 0; padding: 0; list-style: none; }
  #events li { padding: 1px 0; border-bottom: 1px dotted #eef0f3; }
  #error { color: #b3261e; padding: 0 16px; }
  button { cursor: pointer; }
</style>
</head>
<body>
<header>
  <h1>GateSvr operator</h1>
  <span>health <span id="health" class="pill">?</span></span>
  <span>connections <b id="connections">0</b></span>
  <span>sessions <b id="session-total">0</b></span>
  <span>qps <b id="qps">0</b></span>
  <span>p99 <b id="p99">0</b> ms</span>
  <span>mode <span id="mode" class="pill">starting</span></span>
  <label>admin token <input id="token" type="password" autocomplete="off" placeholder="(none)"></label>
  <button id="apply-token" type="button">apply</button>
</header>
<p id="error" role="alert"></p>
<main>
  <section>
    <h2>Sessions <span id="shown"></span></h2>
    <table>
      <thead><tr>
        <th>openid</th><th>session</th><th>phase</th><th>link</th><th>zone</th>
        <th>next seq</th><th>acked</th><th>pending</th><th>in flight</th><th>held</th>
      </tr></thead>
      <tbody id="sessions"></tbody>
    </table>
  </section>
  <section id="detail" hidden>
    <h2>Actor <span id="detail-id" class="mono"></span></h2>
    <dl>
      <dt>openid</dt><dd id="d-openid"></dd>
      <dt>state</dt><dd id="d-state" class="mono"></dd>
      <dt>phase</dt><dd id="d-phase"></dd>
      <dt>link</dt><dd id="d-link"></dd>
      <dt>zone</dt><dd id="d-zone"></dd>
      <dt>last client seq</dt><dd id="d-lastClientSeq"></dd>
      <dt>next seq</dt><dd id="d-nextSeq"></dd>
      <dt>last acked seq</dt><dd id="d-lastAckedSeq"></dd>
      <dt>pending pushes</dt><dd id="d-pending" class="mono"></dd>
      <dt>in-flight requests</dt><dd id="d-inflight" class="mono"></dd>
      <dt>held notifies</dt><dd id="d-held" class="mono"></dd>
      <dt>resumes / takeovers</dt><dd id="d-resumes"></dd>
      <dt>last activity</dt><dd id="d-activity"></dd>
    </dl>
    <p><button id="kick" type="button">kick session</button></p>
    <h2>Events</h2>
    <ul id="events" class="mono"></ul>
  </section>
</main>
<script>
(function () {
  'use strict';
  var sessions = new Map();
  var selected = null;
  var token = sessionStorage.getItem('gatesvr.adminToken') || '';
  var streamAbort = null;
  var pollTimer = null;
  var $ = function (id) { return document.getElementById(id); };
  $('token').value = token;

  function headers() {
    var h = { accept: 'application/json' };
    if (token) h.authorization = 'Bearer ' + token;
    return h;
  }
  function showError(msg) { $('error').textContent = msg || ''; }
  function setMode(text, cls) { var m = $('mode'); m.textContent = text; m.className = 'pill ' + (cls || ''); }

  async function getJson(path, opts) {
    var res = await fetch(path, Object.assign({ headers: headers() }, opts || {}));
    var body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      var err = new Error((body && body.message) || ('HTTP ' + res.status));
      err.status = res.status; err.code = body && body.error;
      throw err;
    }
    return body;
  }

  function cell(tr, text, cls) {
    var td = document.createElement('td');
    td.textContent = String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function render() {
    var tbody = $('sessions');
    var rows = [];
    sessions.forEach(function (s) { rows.push(s); });
    rows.sort(function (a, b) { return a.createdAt - b.createdAt; });
    tbody.textContent = '';
    rows.forEach(function (s) {
      var tr = document.createElement('tr');
      tr.dataset.sessionId = s.sessionId;
      tr.dataset.openid = s.openid;
      tr.dataset.phase = s.phase;
      tr.dataset.link = s.attached ? 'attached' : 'detached';
      if (s.sessionId === selected) tr.className = 'selected';
      cell(tr, s.openid);
      cell(tr, s.sessionId.slice(0, 8), 'mono');
      cell(tr, s.phase, 'phase phase-' + s.phase);
      cell(tr, s.attached ? 'attached' : 'detached');
      cell(tr, s.zone);
      cell(tr, s.nextSeq);
      cell(tr, s.lastAckedSeq);
      cell(tr, s.pending);
      cell(tr, s.inflight.length);
      cell(tr, s.held);
      tr.addEventListener('click', function () { select(s.sessionId); });
      tbody.appendChild(tr);
    });
    $('shown').textContent = '(' + rows.length + ')';
    renderDetail();
  }

  function list(arr) { return arr && arr.length ? arr.join(', ') : '-'; }

  function renderDetail() {
    var s = selected && sessions.get(selected);
    var d = $('detail');
    if (!s) { d.hidden = true; return; }
    d.hidden = false;
    d.dataset.sessionId = s.sessionId;
    d.dataset.phase = s.phase;
    $('detail-id').textContent = s.sessionId;
    $('d-openid').textContent = s.openid;
    $('d-state').textContent = (s.state || []).join('  |  ');
    $('d-phase').textContent = s.phase;
    $('d-link').textContent = s.attached ? 'attached' : 'detached';
    $('d-zone').textContent = String(s.zone);
    $('d-lastClientSeq').textContent = String(s.lastClientSeq);
    $('d-nextSeq').textContent = String(s.nextSeq);
    $('d-lastAckedSeq').textContent = String(s.lastAckedSeq);
    $('d-pending').textContent = s.pending + ' [' + list(s.pendingSeqs) + ']';
    $('d-inflight').textContent = s.inflight.length + ' [' + list(s.inflight) + ']';
    $('d-held').textContent = String(s.held);
    $('d-resumes').textContent = s.resumes + ' / ' + s.takeovers;
    $('d-activity').textContent = new Date(s.lastActivity).toISOString();
  }

  function logEvent(text) {
    var ul = $('events');
    var li = document.createElement('li');
    li.textContent = new Date().toISOString().slice(11, 23) + '  ' + text;
    ul.insertBefore(li, ul.firstChild);
    while (ul.childNodes.length > 200) ul.removeChild(ul.lastChild);
  }

  async function select(id) {
    if (selected !== id) $('events').textContent = '';
    selected = id;
    render();
    try {
      var body = await getJson('/admin/sessions/' + encodeURIComponent(id));
      sessions.set(id, body.session);
      render();
    } catch (e) { showError(e.message); }
  }

  function apply(msg) {
    if (msg.type === 'session') {
      sessions.set(msg.session.sessionId, msg.session);
      if (msg.session.sessionId === selected) {
        logEvent((msg.events.length ? msg.events.join(', ') : 'snapshot') + '  ->  ' + msg.session.state.join(' | '));
      }
    } else if (msg.type === 'removed') {
      sessions.delete(msg.sessionId);
      if (msg.sessionId === selected) logEvent('ended: ' + msg.reason);
    }
    render();
  }

  async function stream() {
    if (streamAbort) streamAbort.abort();
    var ctl = new AbortController();
    streamAbort = ctl;
    var res = await fetch('/admin/events', { headers: Object.assign(headers(), { accept: 'text/event-stream' }), signal: ctl.signal });
    if (res.status === 404) return false;
    if (!res.ok) {
      var body = null;
      try { body = await res.json(); } catch (e) { body = null; }
      var err = new Error((body && body.message) || ('HTTP ' + res.status));
      err.status = res.status;
      throw err;
    }
    setMode('live (inspector)', 'ok');
    showError('');
    var reader = res.body.getReader();
    var decoder = new TextDecoder();
    var buf = '';
    for (;;) {
      var r = await reader.read();
      if (r.done) break;
      buf += decoder.decode(r.value, { stream: true });
      var cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        var block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        var ev = 'message', data = '';
        block.split('\n').forEach(function (line) {
          if (line.indexOf('event: ') === 0) ev = line.slice(7);
          else if (line.indexOf('data: ') === 0) data += line.slice(6);
        });
        if (!data) continue;
        var payload = JSON.parse(data);
        if (ev === 'snapshot') {
          sessions.clear();
          payload.sessions.forEach(function (s) { sessions.set(s.sessionId, s); });
          render();
        } else {
          apply(payload);
        }
      }
    }
    throw new Error('event stream ended');
  }

  async function poll() {
    try {
      var body = await getJson('/admin/sessions?limit=1000');
      sessions.clear();
      body.sessions.forEach(function (s) { sessions.set(s.sessionId, s); });
      render();
      showError('');
    } catch (e) { showError(e.message); }
  }

  async function connect() {
    if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    try {
      var live = await stream();
      if (live === false) {
        setMode('polling (inspector disabled)', 'warn');
        await poll();
        pollTimer = setInterval(poll, 2000);
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      setMode('disconnected', 'bad');
      showError(e.status === 401 || e.status === 403 ? 'admin API: ' + e.message + ' (enter the admin token)' : e.message);
      setTimeout(connect, e.status === 401 || e.status === 403 ? 5000 : 1000);
    }
  }

  async function header() {
    try {
      var h = await fetch('/health');
      var hb = await h.json();
      var el = $('health');
      el.textContent = hb.status;
      el.className = 'pill ' + (hb.status === 'healthy' ? 'ok' : hb.status === 'standby' ? 'warn' : 'bad');
      var st = await getJson('/stats');
      $('connections').textContent = String(st.connections);
      $('session-total').textContent = String(st.sessions.total);
      var perf = await getJson('/performance');
      $('qps').textContent = perf.qps.requests.toFixed(1);
      $('p99').textContent = perf.latencyMs.p99.toFixed(1);
    } catch (e) { /* header numbers are best effort */ }
  }

  $('apply-token').addEventListener('click', function () {
    token = $('token').value.trim();
    sessionStorage.setItem('gatesvr.adminToken', token);
    connect();
  });
  $('kick').addEventListener('click', async function () {
    if (!selected) return;
    try {
      await getJson('/admin/sessions/' + encodeURIComponent(selected) + '/kick', {
        method: 'POST',
        headers: Object.assign(headers(), { 'content-type': 'application/json' }),
        body: '{}'
      });
      logEvent('kick requested');
    } catch (e) { showError(e.message); }
  });

  header();
  setInterval(header, 2000);
  connect();
})();
</script>
</body>
</html>
`;

/** 'sha256-…' of the text of the one inline element `tag` of the page (CSP hash source). */
function inlineHash(tag: 'script' | 'style'): string {
  const open = OPERATOR_PAGE_HTML.indexOf(`<${tag}>`);
  const close = OPERATOR_PAGE_HTML.indexOf(`</${tag}>`);
  if (open < 0 || close < open || OPERATOR_PAGE_HTML.indexOf(`<${tag}>`, open + 1) >= 0) {
    throw new Error(`operator page: expected exactly one inline <${tag}>`);
  }
  const text = OPERATOR_PAGE_HTML.slice(open + tag.length + 2, close);
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** The page may run its own script and style, call this origin (fetch), and nothing else. */
export const OPERATOR_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${inlineHash('script')}`,
  `style-src ${inlineHash('style')}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
