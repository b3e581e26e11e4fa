/**
 * The operator page end to end in headless Chromium (Debian's chromium driven by
 * playwright-core): the page lists sessions from the actor inspector's stream and
 * shows a session change state live when its client logs in (INITED -> NORMAL),
 * under its strict CSP. Then a hostile site in the same browser against a gateway
 * with no admin token: it cannot frame the page, its cross-site posts (no-cors
 * fetch, text/plain form) kick nobody, and a rebound name reads no session.
 *
 * Needs /usr/bin/chromium: `bash scripts/install-browser.sh` installs it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { connectClient, login, startTestGateway, waitFor } from '../helpers/gateway.js';

const CHROMIUM = process.env.GATESVR_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'browser-test-token-93d1';
const REBIND = 'rebind.attacker.example';

function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run "bash scripts/install-browser.sh" (installs Debian's chromium) before the browser tests`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // DNS rebinding without DNS: the attacker's name resolves to this host.
      `--host-resolver-rules=MAP ${REBIND} 127.0.0.1`,
    ],
  });
}

describe('operator page in headless Chromium', () => {
  let gw: Gateway;
  let browser: Browser;
  let page: Page;
  const clients: GateClient[] = [];

  const cspViolations: string[] = [];

  before(async () => {
    gw = await startTestGateway({
      inspector: { enabled: true },
      admin: { token: TOKEN, loopbackOnly: true },
    });
    browser = await launch();
    page = await browser.newPage();
    page.on('console', (m) => {
      if (/Content.Security.Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });
  });

  after(async () => {
    for (const c of clients) c.close();
    await page?.close().catch(() => {});
    await browser?.close();
    await gw?.close();
  });

  test('asks for the admin token, then streams live from the inspector', async () => {
    await page.goto(`http://127.0.0.1:${gw.addresses.http.port}/`);
    assert.equal(await page.title(), 'GateSvr operator');
    await page.locator('#error', { hasText: 'admin token' }).waitFor();
    await page.fill('#token', TOKEN);
    await page.click('#apply-token');
    await page.locator('#mode', { hasText: 'live (inspector)' }).waitFor();
    await page.locator('#health', { hasText: 'healthy' }).waitFor();
  });

  test('a session appears INITED, then turns NORMAL when its client logs in', async () => {
    const client = await connectClient(gw, 'browser-user');
    clients.push(client);
    const row = page.locator('#sessions tr[data-openid="browser-user"]');
    await page.locator('#sessions tr[data-openid="browser-user"][data-phase="inited"]').waitFor();
    assert.equal(await row.getAttribute('data-session-id'), client.sessionId);
    assert.equal(await row.getAttribute('data-link'), 'attached');

    // Open the actor view, then log in: the same row and the view follow the actor.
    await row.click();
    await page.locator('#detail[data-phase="inited"]').waitFor();
    assert.equal(await page.textContent('#detail-id'), client.sessionId);
    assert.match((await page.textContent('#d-state')) ?? '', /active\.phase\.inited/);

    await login(client, '5');
    await page.locator('#sessions tr[data-openid="browser-user"][data-phase="normal"]').waitFor();
    await page.locator('#detail[data-phase="normal"]').waitFor();
    assert.match((await page.textContent('#d-state')) ?? '', /active\.phase\.normal/);
    assert.equal(await page.textContent('#d-zone'), '5');
    assert.equal(await page.textContent('#d-lastClientSeq'), '1');
    await page.locator('#events li', { hasText: 'BUSINESS' }).first().waitFor();
  });

  test('kicking from the page ends the session and removes its row', async () => {
    const client = clients[0]!;
    const closed = new Promise<number>((resolve) => client.onClose((info) => resolve(info.code)));
    await page.click('#kick');
    assert.equal(await closed, 0);
    await page.locator('#sessions tr[data-openid="browser-user"]').waitFor({ state: 'detached' });
    assert.equal(gw.system.findByOpenid('browser-user'), undefined);
    // The page did all of the above under its CSP without tripping it.
    assert.deepEqual(cspViolations, []);
  });
});

/** The attacker's site: frames the operator page and posts to the kick route from another origin. */
function attackerPage(gwPort: number, sessionId: string): string {
  const kick = `http://127.0.0.1:${gwPort}/admin/sessions/${sessionId}/kick`;
  return `<!doctype html><html><head><title>win a prize</title></head><body>
<iframe id="frame" src="http://127.0.0.1:${gwPort}/" onload="window.framed = true"></iframe>
<form id="form" method="POST" action="${kick}" enctype="text/plain" target="sink">
  <input name='{"x":"' value='"}'>
</form>
<iframe name="sink" id="sink"></iframe>
<script>
  window.fetched = fetch(${JSON.stringify(kick)}, {
    method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: '{}'
  }).then(() => 'sent', (e) => 'failed: ' + e);
</script>
</body></html>`;
}

describe('a hostile site against a gateway with no admin token (the default)', () => {
  let gw: Gateway;
  let browser: Browser;
  let attacker: Server;
  let victim: GateClient;
  const closes: number[] = [];
  const logLines: string[] = [];

  before(async () => {
    const logger = pino({ level: 'debug' }, { write: (line: string) => logLines.push(line) });
    gw = await startTestGateway({ admin: { token: '', loopbackOnly: true } }, { logger });
    victim = await connectClient(gw, 'victim');
    victim.onClose((info) => closes.push(info.code));
    await login(victim, '2');
    const html = attackerPage(gw.addresses.http.port, victim.sessionId);
    attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(html);
    });
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve));
    browser = await launch();
  });

  after(async () => {
    victim?.close();
    await browser?.close();
    await new Promise((resolve) => attacker?.close(resolve));
    await gw?.close();
  });

  test('cannot frame the operator page, and its cross-site posts kick nobody', async () => {
    const page = await browser.newPage();
    // "localhost" is another site than "127.0.0.1": the browser sends Sec-Fetch-Site: cross-site.
    const port = (attacker.address() as AddressInfo).port;
    await page.goto(`http://localhost:${port}/`);
    // The no-cors fetch is sent; its answer is opaque to the page either way.
    await page.evaluate('window.fetched');
    await page.waitForFunction('window.framed === true');
    const framed = page.frames().find((f) => f !== page.mainFrame() && f.name() !== 'sink');
    assert.ok(framed, 'the iframe exists');
    assert.equal(await framed.locator('#kick').count(), 0, 'the operator page did not load in the frame');
    await page.evaluate("document.getElementById('form').submit()");

    // Both posts reached the gateway (its request log) and were refused.
    const kickPath = `/admin/sessions/${victim.sessionId}/kick`;
    const answers = () =>
      logLines
        .map((l) => JSON.parse(l) as { msg?: string; path?: string; method?: string; status?: number })
        .filter((l) => l.msg === 'http request' && l.path === kickPath && l.method === 'POST')
        .map((l) => l.status);
    await waitFor(() => answers().length === 2, 10_000, 'both cross-site posts answered');
    assert.deepEqual(answers(), [403, 403]);

    // The QUIC session is untouched: no close, and it still answers.
    assert.deepEqual(closes, []);
    assert.equal((await victim.request('echo', { after: 'attack' })).code, 0);
    assert.ok(gw.system.get(victim.sessionId));
    await page.close();
  });

  test('a rebound name reads no session and gets no page', async () => {
    const page = await browser.newPage();
    const port = gw.addresses.http.port;
    const list = await page.goto(`http://${REBIND}:${port}/admin/sessions`);
    assert.equal(list?.status(), 421);
    assert.doesNotMatch((await page.content()) ?? '', /victim/);
    const root = await page.goto(`http://${REBIND}:${port}/`);
    assert.equal(root?.status(), 421);
    // The same request under this host's name is served (the browser itself is fine).
    const ok = await page.goto(`http://127.0.0.1:${port}/admin/sessions`);
    assert.equal(ok?.status(), 200);
    assert.match(await page.content(), /victim/);
    await page.close();
  });
});
