/** Starts a real gateway (QUIC, gRPC, demo upstreams) on free loopback ports. */
import assert from 'node:assert/strict';
import pino from 'pino';
import { GateClient, type GateClientOptions } from '../../src/client/gate-client.js';
import { PushClient } from '../../src/client/push-client.js';
import { defaultConfig, type GatewayConfig } from '../../src/config/schema.js';
import { type Gateway, type GatewayOptions, startGateway } from '../../src/gateway.js';
import { type NatsServerHandle, startNatsServer } from './nats-server.js';

export type ConfigPatch = {
  [K in keyof GatewayConfig]?: Partial<GatewayConfig[K]>;
};

export function testConfig(patch: ConfigPatch = {}): GatewayConfig {
  const cfg = defaultConfig();
  cfg.server.quicAddr = '127.0.0.1:0';
  cfg.server.grpcAddr = '127.0.0.1:0';
  cfg.server.httpAddr = '127.0.0.1:0';
  cfg.server.metricsAddr = '127.0.0.1:0';
  cfg.log.level = (process.env.GATESVR_TEST_LOG as GatewayConfig['log']['level']) ?? 'silent';
  for (const [k, v] of Object.entries(patch)) {
    Object.assign((cfg as unknown as Record<string, object>)[k]!, v);
  }
  return cfg;
}

export async function startTestGateway(patch: ConfigPatch = {}, opts: GatewayOptions = {}): Promise<Gateway> {
  const cfg = testConfig(patch);
  return startGateway(cfg, { logger: pino({ level: cfg.log.level }), ...opts });
}

export function connectClient(
  gw: Gateway,
  openid: string,
  extra: Partial<GateClientOptions> = {},
): Promise<GateClient> {
  return GateClient.connect({
    host: '127.0.0.1',
    port: gw.addresses.quic.port,
    openid,
    caPem: gw.tls.certPem,
    serverName: 'localhost',
    heartbeat: false,
    ...extra,
  });
}

/** Log in through the demo hello service (zone from params). */
export async function login(client: GateClient, zone = '1'): Promise<void> {
  const a = await client.request('hello', { zone });
  if (a.code !== 0) throw new Error(`login failed: ${a.code} ${a.message}`);
}

export function waitFor(cond: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (cond()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** Contents of every NOTIFY the client delivers from now on, in order (filled as they arrive). */
export function notifyContents(client: GateClient): string[] {
  const out: string[] = [];
  client.onDelivered((d) => {
    if (d.kind === 'notify') out.push(d.notify.content);
  });
  return out;
}

/**
 * `content` is the client's next NOTIFY, and nothing else arrives before a fresh
 * `marker` pushed now: a push was delivered once, checked without any timing.
 */
export async function receivesOnce(
  client: GateClient,
  pusher: PushClient,
  openid: string,
  content: string,
  marker: string,
): Promise<void> {
  assert.equal((await client.nextNotify()).content, content);
  const r = await pusher.push({ targetType: 'openid', targetId: openid, content: marker });
  assert.equal(r.success, true, r.message);
  assert.equal((await client.nextNotify()).content, marker);
}

/** Config patch of a gateway on NATS (`serverId` names the node). */
export function natsPatch(
  url: string,
  serverId = 'solo',
  nats: Partial<GatewayConfig['nats']> = {},
): ConfigPatch {
  return {
    nats: { url, stream: 'GATESVR', subjectPrefix: 'gatesvr', ...nats },
    backup: { enabled: false, mode: 'primary', serverId },
  };
}

export interface NatsSession {
  nats: NatsServerHandle;
  gw: Gateway;
  client: GateClient;
  producer: PushClient;
  close(): Promise<void>;
}

/** A private nats-server, a gateway on it, one logged-in client `openid` and a gRPC producer. */
export async function startNatsSession(openid: string, producerTimeoutMs: number): Promise<NatsSession> {
  const nats = await startNatsServer();
  const gw = await startTestGateway(natsPatch(nats.url));
  const client = await connectClient(gw, openid);
  await login(client, '1');
  const producer = new PushClient(`127.0.0.1:${gw.addresses.grpc.port}`, producerTimeoutMs);
  return {
    nats,
    gw,
    client,
    producer,
    async close() {
      producer.close();
      client.close();
      await gw.close().catch(() => {});
      await nats.stop();
    },
  };
}

/** Like waitFor, for a condition that must be awaited (an HTTP probe, a NATS query). */
export async function waitForAsync(
  cond: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await cond()) return;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
