/**
 * The operator page end to end in headless Chromium (Debian's chromium driven by
 * playwright-core): the page lists sessions from the actor inspector's stream and
 * shows a session change state live when its client logs in (INITED -> NORMAL).
 *
 * Needs /usr/bin/chromium: `bash scripts/install-browser.sh` installs it.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { GateClient } from '../../src/client/gate-client.js';
import type { Gateway } from '../../src/gateway.js';
import { connectClient, login, startTestGateway } from '../helpers/gateway.js';

const CHROMIUM = process.env.GATESVR_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'browser-test-token-93d1';

describe('operator page in headless Chromium', () => {
  let gw: Gateway;
  let browser: Browser;
  let page: Page;
  const clients: GateClient[] = [];

  before(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `${CHROMIUM} is missing: run "bash scripts/install-browser.sh" (installs Debian's chromium) before the browser tests`,
      );
    }
    gw = await startTestGateway({
      inspector: { enabled: true },
      admin: { token: TOKEN, loopbackOnly: true },
    });
    browser = await chromium.launch({
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
      ],
    });
    page = await browser.newPage();
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
  });
});
