/** Starts a real gateway (QUIC, gRPC, demo upstreams) on free loopback ports. */
import pino from 'pino';
import { GateClient, type GateClientOptions } from '../../src/client/gate-client.js';
import { defaultConfig, type GatewayConfig } from '../../src/config/schema.js';
import { type Gateway, type GatewayOptions, startGateway } from '../../src/gateway.js';

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
