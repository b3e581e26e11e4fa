/**
 * Fuzz of the operations HTTP server of a running gateway (default posture: no
 * admin.token, loopback only, inspector on) with live QUIC sessions. Seeded
 * fast-check requests, written as raw bytes on a TCP socket: random and known
 * paths, methods, Host / Origin / Sec-Fetch-Site / Content-Type / forwarding
 * headers, bodies (empty, JSON, garbage, over the 16 KiB limit) and framing
 * (Content-Length missing, short, long, not a number, chunked, both).
 *
 * Checked: no answer is a 5xx, every request gets an answer or a clean close, a
 * session is kicked only by a request that a browser page of another site could
 * not have sent (POST, this server's Host, same origin, JSON, not forwarded), no
 * other session is touched, and the gateway still answers /health afterwards.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';

const SEED = 20261203;
const RUNS = 300;
const REPLY_LIMIT_MS = 10_000;

/** Stand-ins for bodies over the 16 KiB limit, expanded when written (fast-check stays quick). */
const HUGE_TEXT = '<17 KiB of text>';
const HUGE_JSON = '<300 kB JSON document>';
const EXPANDED: Record<string, string> = {
  [HUGE_TEXT]: 'x'.repeat(17 * 1024),
  [HUGE_JSON]: `{"a":"${'y'.repeat(300_000)}"}`,
};

type Framing = 'exact' | 'none' | 'short' | 'long' | 'garbage' | 'chunked' | 'both';

interface FuzzRequest {
  method: string;
  /** "{victim}" / "{bystander}" are replaced by the live session ids. */
  path: string;
  host: string | null;
  origin: string | null;
  fetchSite: string | null;
  contentType: string | null;
  forwarded: boolean;
  authorization: string | null;
  body: string;
  framing: Framing;
  extraHeader: [string, string] | null;
}

/** A header value: printable ASCII and Latin-1, never CR or LF (no second request smuggled in). */
const headerText = fc
  .array(fc.integer({ min: 0x20, max: 0xff }), { maxLength: 40 })
  .map((codes) => String.fromCharCode(...codes.filter((c) => c !== 0x7f)));

const pathText = fc.oneof(
  fc.constantFrom(
    '/',
    '/ui',
    '/health',
    '/live',
    '/stats',
    '/performance',
    '/admin',
    '/admin/',
    '/admin/sessions',
    '/admin/sessions?limit=0',
    '/admin/sessions?phase=normal&limit=10000',
    '/admin/sessions?zone=x',
    '/admin/events',
    '/admin/sessions/{bystander}',
    '/admin/sessions/%E0%A4%A',
    '/admin/sessions/none/kick',
    '//admin/sessions',
    '/admin/sessions/../../stats',
    '/metrics',
    '*',
    `/${'a'.repeat(9000)}`,
  ),
  fc.constantFrom(
    '/admin/sessions/{victim}/kick',
    '/admin/sessions/{victim}/kick/',
    '/admin/sessions/{victim}',
  ),
  fc
    .array(fc.integer({ min: 0x21, max: 0x7e }), { maxLength: 60 })
    .map((codes) => `/${String.fromCharCode(...codes)}`),
);

/** The value that makes a kick go through, most of the time; something else otherwise. */
function mostly<T>(good: T, bad: fc.Arbitrary<T>): fc.Arbitrary<T> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(good) }, { weight: 1, arbitrary: bad });
}

function requestArb(port: number): fc.Arbitrary<FuzzRequest> {
  const self = `http://127.0.0.1:${port}`;
  return fc.record({
    method: mostly(
      'POST',
      fc.constantFrom('GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'FOO', 'post', 'CONNECT'),
    ),
    path: fc.oneof(
      { weight: 2, arbitrary: fc.constant('/admin/sessions/{victim}/kick') },
      { weight: 3, arbitrary: pathText },
    ),
    host: mostly(
      `127.0.0.1:${port}`,
      fc.oneof(
        fc.constantFrom(
          null,
          '',
          `localhost:${port}`,
          `[::1]:${port}`,
          `rebind.attacker.example:${port}`,
          'rebind.attacker.example',
          'localhost.attacker.example',
          '127.0.0.1:x',
          '[::1',
          'a, b',
        ),
        headerText,
      ),
    ),
    origin: mostly(
      null as string | null,
      fc.oneof(
        fc.constantFrom(
          self,
          'https://evil.example',
          'null',
          `http://localhost:${port}`,
          'http://127.0.0.1:1',
          'file://',
        ),
        headerText,
      ),
    ),
    fetchSite: mostly(
      null as string | null,
      fc.oneof(fc.constantFrom('same-origin', 'none', 'cross-site', 'same-site'), headerText),
    ),
    contentType: mostly(
      'application/json' as string | null,
      fc.oneof(
        fc.constantFrom(
          null,
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json; charset=utf-8',
          'APPLICATION/JSON',
          'application/jsonp',
        ),
        headerText,
      ),
    ),
    forwarded: mostly(false, fc.constant(true)),
    authorization: fc.option(fc.oneof(fc.constant('Bearer x'), headerText), { freq: 3 }),
    body: fc.oneof(
      { weight: 3, arbitrary: fc.constantFrom('', '{}') },
      { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
      {
        weight: 2,
        // Any code points, lone surrogates and NUL included (fc.string's binary unit is slow to set up).
        arbitrary: fc
          .array(fc.integer({ min: 0, max: 0x10ffff }), { maxLength: 200 })
          .map((cps) => String.fromCodePoint(...cps)),
      },
      { weight: 1, arbitrary: fc.constantFrom(HUGE_TEXT, HUGE_JSON) },
    ),
    framing: mostly<Framing>(
      'exact',
      fc.constantFrom<Framing>('none', 'short', 'long', 'garbage', 'chunked', 'both'),
    ),
    extraHeader: fc.option(
      fc.tuple(fc.constantFrom('x-a', 'cookie', 'accept', 'te', 'expect', 'upgrade'), headerText),
      {
        freq: 4,
      },
    ),
  });
}

function serialize(r: FuzzRequest, ids: { victim: string; bystander: string }): Buffer {
  const path = r.path.replaceAll('{victim}', ids.victim).replaceAll('{bystander}', ids.bystander);
  const body = Buffer.from(EXPANDED[r.body] ?? r.body, 'utf8');
  const lines = [`${r.method} ${path} HTTP/1.1`];
  if (r.host !== null) lines.push(`Host: ${r.host}`);
  if (r.origin !== null) lines.push(`Origin: ${r.origin}`);
  if (r.fetchSite !== null) lines.push(`Sec-Fetch-Site: ${r.fetchSite}`);
  if (r.contentType !== null) lines.push(`Content-Type: ${r.contentType}`);
  if (r.forwarded) lines.push('X-Forwarded-For: 203.0.113.50');
  if (r.authorization !== null) lines.push(`Authorization: ${r.authorization}`);
  if (r.extraHeader) lines.push(`${r.extraHeader[0]}: ${r.extraHeader[1]}`);
  lines.push('Connection: close');
  let payload = body;
  switch (r.framing) {
    case 'exact':
      lines.push(`Content-Length: ${body.length}`);
      break;
    case 'none':
      break;
    case 'short':
      lines.push(`Content-Length: ${Math.max(0, body.length - 3)}`);
      break;
    case 'long':
      lines.push(`Content-Length: ${body.length + 50}`);
      break;
    case 'garbage':
      lines.push('Content-Length: 12x');
      break;
    case 'chunked':
    case 'both':
      lines.push('Transfer-Encoding: chunked');
      if (r.framing === 'both') lines.push(`Content-Length: ${body.length}`);
      payload = Buffer.concat([
        Buffer.from(body.length > 0 ? `${body.length.toString(16)}\r\n` : ''),
        body,
        Buffer.from(body.length > 0 ? '\r\n0\r\n\r\n' : '0\r\n\r\n'),
      ]);
      break;
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), payload]);
}

interface Reply {
  /** Status codes of every response on the connection, in order (a short body may make two requests). */
  statuses: number[];
  text: string;
}

/** Writes the bytes, half-closes, and reads until the server closes (an SSE stream: until its headers). */
function exchange(port: number, bytes: Buffer): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const sock = connect(port, '127.0.0.1');
    const finish = () => {
      clearTimeout(guard);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/(?:^|\r\n)HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
      resolve({ statuses, text });
    };
    const guard = setTimeout(() => {
      sock.destroy();
      reject(new Error('no answer and no close from the server'));
    }, REPLY_LIMIT_MS);
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      const head = Buffer.concat(chunks).toString('latin1');
      if (/content-type: text\/event-stream/i.test(head) && head.includes('\r\n\r\n')) {
        sock.destroy();
        finish();
      }
    });
    // The server may cut a request it refused while the body was still being written.
    sock.on('error', () => {});
    sock.on('close', finish);
    sock.end(bytes);
  });
}

/** A request that a page of another site could not have sent, to this server, as JSON. */
function mayKick(r: FuzzRequest, port: number): boolean {
  const local = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  return (
    r.method === 'POST' &&
    r.host !== null &&
    local.has(r.host.toLowerCase()) &&
    (r.origin === null || r.origin === `http://${r.host}`) &&
    (r.fetchSite === null || ['same-origin', 'none'].includes(r.fetchSite.trim().toLowerCase())) &&
    r.contentType !== null &&
    /^\s*application\/json\s*(;|$)/i.test(r.contentType) &&
    !r.forwarded
  );
}

describe('HTTP surface fuzz against a running gateway', () => {
  let gw: Gateway;
  let port: number;
  let bystander: GateClient;
  let victim: GateClient;
  const closes = new Map<string, number>();

  const track = (c: GateClient) => {
    const id = c.sessionId;
    c.onClose(() => closes.set(id, (closes.get(id) ?? 0) + 1));
    return c;
  };

  before(async () => {
    gw = await startTestGateway({ admin: { token: '', loopbackOnly: true }, inspector: { enabled: true } });
    port = gw.addresses.http.port;
    bystander = track(await connectClient(gw, 'bystander'));
    await login(bystander, '4');
    victim = track(await connectClient(gw, 'victim'));
  });

  after(async () => {
    await Promise.all([bystander.stop(), victim.stop()]);
    await gw.close();
  });

  test(`${RUNS} seeded requests: no 5xx, kicks only when authorised, other sessions untouched`, async () => {
    let requests = 0;
    let kicks = 0;
    let victims = 1;
    const statusCounts = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArb(port), async (r) => {
        requests++;
        const target = victim.sessionId;
        const reply = await exchange(port, serialize(r, { victim: target, bystander: bystander.sessionId }));
        for (const s of reply.statuses) statusCounts.set(s, (statusCounts.get(s) ?? 0) + 1);
        for (const s of reply.statuses) assert.ok(s < 500, `${s} for ${JSON.stringify(r).slice(0, 400)}`);
        const kicked = reply.text.includes('"kicked":true');
        if (kicked) {
          kicks++;
          assert.ok(mayKick(r, port), `kick went through for ${JSON.stringify(r).slice(0, 400)}`);
          // The kicked client sees its connection close; the next requests aim at a new session.
          await waitFor(() => closes.get(target) === 1, 5000, 'kicked client closed');
          victim = track(await connectClient(gw, `victim-${++victims}`));
        } else {
          assert.ok(gw.system.get(target), `session ${target} gone without a kick answer`);
        }
        assert.equal(closes.get(bystander.sessionId), undefined, 'bystander untouched');
      }),
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    assert.equal(requests, RUNS);
    // Kicks are aimed at one session at a time, each one closed exactly once.
    assert.equal(closes.size, kicks);
    for (const n of closes.values()) assert.equal(n, 1);
    // Survives: /health answers, the bystander's session still serves requests.
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
    assert.equal((await bystander.request('echo', { after: 'fuzz' })).code, 0);
    assert.ok(kicks > 0, 'the generator reaches authorised kicks too');
    const refused = [...statusCounts].filter(([s]) => s >= 400).reduce((n, [, c]) => n + c, 0);
    assert.ok(refused > RUNS / 3, `most requests are refused (${refused})`);
    process.stdout.write(
      `# http fuzz: ${requests} requests, ${kicks} authorised kicks, statuses ${JSON.stringify(Object.fromEntries(statusCounts))}\n`,
    );
  });
});
