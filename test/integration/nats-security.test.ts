/**
 * The gateway on a NATS server that requires TLS and a token / user + password
 * (docs/security-services.md): credentials from the config, never only in the URL;
 * credentials left in the URL still work but are warned about and never logged.
 * A real nats-server with a generated config file on a free port.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { PushClient } from '../../src/client/push-client.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { NatsConnectError } from '../../src/errors.js';
import { type Gateway, startGateway } from '../../src/gateway.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { connectClient, login, natsPatch, startTestGateway, testConfig } from '../helpers/gateway.js';
import { type NatsServerHandle, startNatsServer } from '../helpers/nats-server.js';

const NATS_TOKEN = 'nats-token-5f2c9a0e';

let pki: TestPki;
before(async () => {
  pki = await makeTestPki();
});
after(async () => {
  await rm(pki.dir, { recursive: true, force: true });
});

const tlsBlock = (p: TestPki) =>
  `tls {\n  cert_file: "${p.server.certFile}"\n  key_file: "${p.server.keyFile}"\n}\n`;

/** Every log line the gateway writes, as text (to look for leaked secrets). */
function capturingLogger(): { logger: pino.Logger; text: () => string } {
  let out = '';
  const stream = new Writable({
    write(chunk, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  return { logger: pino({ level: 'info' }, stream), text: () => out };
}

async function pushDelivered(gw: Gateway, openid: string): Promise<void> {
  const client = await connectClient(gw, openid);
  const producer = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`);
  try {
    await login(client);
    const r = await producer.push({ targetType: 'openid', targetId: openid, content: `to ${openid}` });
    assert.equal(r.success, true, r.message);
    assert.equal((await client.nextNotify()).content, `to ${openid}`);
  } finally {
    producer.close();
    await client.stop();
  }
}

async function refusedToStart(
  patch: Parameters<typeof natsPatch>[2],
  url: string,
): Promise<NatsConnectError> {
  let caught: unknown;
  try {
    const gw = await startTestGateway(natsPatch(url, 'refused', patch));
    await gw.close();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof NatsConnectError, `expected NatsConnectError, got ${caught}`);
  assert.doesNotMatch(caught.message, /\n/, 'one line');
  return caught;
}

describe('NATS over TLS with a token', { timeout: 90_000 }, () => {
  let nats: NatsServerHandle;
  before(async () => {
    nats = await startNatsServer({
      config: `${tlsBlock(pki)}authorization {\n  token: "${NATS_TOKEN}"\n}\n`,
    });
  });
  after(async () => {
    await nats.stop();
  });

  it('connects with nats.tls_ca_file and nats.token, and a push is delivered', async () => {
    const { logger, text } = capturingLogger();
    const cfg: GatewayConfig = testConfig(
      natsPatch(nats.url, 'tls-token', { tlsCaFile: pki.caFile, token: NATS_TOKEN }),
    );
    const gw = await startGateway(cfg, { logger });
    try {
      assert.ok(gw.nats, 'on NATS');
      await pushDelivered(gw, 'nats-tls-user');
      const connected = text()
        .split('\n')
        .find((l) => l.includes('"NATS connected"'));
      assert.ok(connected, 'logs the connection');
      assert.match(connected, /"tls":true/);
      assert.match(connected, /"auth":"token"/);
      assert.ok(!text().includes(NATS_TOKEN), 'the token is never logged');
    } finally {
      await gw.close();
    }
  });

  it('a wrong token stops the start with a one-line reason naming the keys to check', async () => {
    const err = await refusedToStart({ tlsCaFile: pki.caFile, token: 'wrong-token' }, nats.url);
    assert.equal(err.code, 'NATS_AUTH');
    assert.match(err.message, /refused the credentials/);
    assert.match(err.message, /nats\.token/);
    assert.ok(!err.message.includes('wrong-token'));
  });

  it('without the CA the start fails on TLS', async () => {
    const err = await refusedToStart({ token: NATS_TOKEN }, nats.url);
    assert.equal(err.code, 'NATS_TLS', err.message);
  });

  it('a token left in the URL still works, is warned about and never logged', async () => {
    const { logger, text } = capturingLogger();
    const url = `nats://${NATS_TOKEN}@127.0.0.1:${nats.port}`;
    const gw = await startGateway(testConfig(natsPatch(url, 'url-token', { tlsCaFile: pki.caFile })), {
      logger,
    });
    try {
      await pushDelivered(gw, 'nats-url-user');
      assert.match(text(), /NATS credentials in nats\.url are visible in ps/);
      assert.match(text(), /nats:\/\/\*\*\*@127\.0\.0\.1/);
      assert.ok(!text().includes(NATS_TOKEN), 'the token is never logged');
    } finally {
      await gw.close();
    }
  });
});

describe('NATS with user and password', { timeout: 60_000 }, () => {
  let nats: NatsServerHandle;
  before(async () => {
    nats = await startNatsServer({
      config: 'authorization {\n  users = [ { user: "gate", password: "pw-7d1e44" } ]\n}\n',
    });
  });
  after(async () => {
    await nats.stop();
  });

  it('connects with nats.user and nats.password; a wrong password is refused at start', async () => {
    const gw = await startTestGateway(
      natsPatch(nats.url, 'user-pass', { user: 'gate', password: 'pw-7d1e44' }),
    );
    try {
      await pushDelivered(gw, 'nats-user');
    } finally {
      await gw.close();
    }
    const err = await refusedToStart({ user: 'gate', password: 'nope' }, nats.url);
    assert.equal(err.code, 'NATS_AUTH');
  });
});
