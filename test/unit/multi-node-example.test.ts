/**
 * deploy/multi-node: three active gateways on one machine sharing a 3-node NATS cluster.
 * The files agree with each other and with the config loader (Docker does not run here;
 * test/integration/multi-node-example.test.ts runs the gateways for real): every gateway
 * config loads, server ids differ, no two listeners share a port, nats.url names the three
 * NATS nodes, replicas are 3, and each NATS node routes to all three.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { envVarNames } from '../../src/config/load.js';
import { type GatewayConfig, parseAddr } from '../../src/config/schema.js';
import { composeServices, envOf, mountedGatewayConfig, mountSource, read } from '../helpers/compose.js';

const DIR = 'deploy/multi-node';
const COMPOSE = `${DIR}/docker-compose.yml`;
const services = composeServices(COMPOSE);
const GATEWAYS = ['gate-1', 'gate-2', 'gate-3'];
const NATS = ['nats-1', 'nats-2', 'nats-3'];

const gateway = (name: string): GatewayConfig => mountedGatewayConfig(services, name, COMPOSE).cfg;

/** What a node's NATS config says (the few keys the example uses). */
function natsConf(name: string) {
  const file = mountSource(services[name]!, '/etc/nats/nats.conf', COMPOSE);
  assert.ok(file, `${name}: its config is mounted`);
  const text = read(file);
  const one = (re: RegExp, what: string, within = text) => {
    const m = re.exec(within);
    assert.ok(m, `${file}: ${what}`);
    return m[1]!;
  };
  const cluster = one(/cluster\s*\{([\s\S]*?)\n\}/, 'cluster block');
  return {
    text,
    serverName: one(/^server_name:\s*(\S+)/m, 'server_name'),
    client: one(/^listen:\s*(\S+)/m, 'listen'),
    monitor: one(/^http:\s*(\S+)/m, 'http'),
    storeDir: one(/store_dir:\s*"([^"]+)"/, 'jetstream store_dir'),
    clusterListen: one(/listen:\s*(\S+)/, 'cluster listen', cluster),
    routes: [...cluster.matchAll(/nats-route:\/\/(\S+)/g)].map((m) => m[1]!),
  };
}

test('three NATS nodes, the demo upstreams and three gateways, all on the host network with health checks', () => {
  for (const name of [...NATS, 'upstreams', ...GATEWAYS]) {
    assert.ok(services[name], `service ${name}`);
    assert.equal(services[name]!.network_mode, 'host', `${name}: host network`);
    assert.ok(services[name]!.healthcheck?.test, `${name}: healthcheck`);
  }
  for (const g of GATEWAYS) {
    for (const n of [...NATS, 'upstreams'])
      assert.equal(services[g]!.depends_on?.[n]?.condition, 'service_healthy', `${g} waits for ${n}`);
  }
});

test('every gateway config loads; server ids differ; three active nodes (no backup pair) with replicas 3', () => {
  const ids = GATEWAYS.map((g) => {
    const cfg = gateway(g);
    assert.equal(cfg.backup.enabled, false, `${g}: active, not a primary/backup pair`);
    assert.equal(cfg.nats.replicas, 3, `${g}: R3`);
    assert.equal(cfg.nats.token, 'value-the-operator-sets', `${g}: nats.token from GATESVR_NATS_TOKEN`);
    return cfg.backup.serverId;
  });
  assert.deepEqual(ids, ['gate-1', 'gate-2', 'gate-3']);
  // The files load without the environment too: nothing in them depends on compose.
  for (const g of GATEWAYS) mountedGatewayConfig({ [g]: { ...services[g]!, environment: {} } }, g, COMPOSE);
});

test('nats.url lists the client port of each of the three NATS nodes, on every gateway', () => {
  const clients = NATS.map((n) => natsConf(n).client).sort();
  for (const g of GATEWAYS) {
    const urls = gateway(g)
      .nats.url.split(',')
      .map((u) => new URL(u))
      .map((u) => `${u.hostname}:${u.port}`)
      .sort();
    assert.deepEqual(urls, clients, `${g}: nats.url`);
  }
});

test('each NATS node has its own name and store, token auth, and routes to every node of the cluster', () => {
  const confs = NATS.map(natsConf);
  assert.deepEqual(
    confs.map((c) => c.serverName),
    NATS,
  );
  assert.equal(new Set(confs.map((c) => c.storeDir)).size, 3, 'one store directory per node');
  const clusterPorts = confs.map((c) => c.clusterListen).sort();
  for (const [i, c] of confs.entries()) {
    assert.match(c.text, /authorization\s*\{[^}]*token:\s*\$NATS_TOKEN/, `${NATS[i]}: token auth`);
    assert.match(c.text, /jetstream\s*\{/, `${NATS[i]}: JetStream`);
    assert.deepEqual([...c.routes].sort(), clusterPorts, `${NATS[i]}: routes to every node`);
    const svc = services[NATS[i]!]!;
    assert.ok(mountSource(svc, c.storeDir, COMPOSE), `${NATS[i]}: its store is a volume`);
    assert.match(String(envOf(svc).NATS_TOKEN), /^\$\{GATESVR_NATS_TOKEN:\?[^}]+\}$/, 'token required');
    assert.ok(
      JSON.stringify(svc.healthcheck!.test).includes(`${c.monitor}/healthz`),
      `${NATS[i]}: healthcheck on its monitor port`,
    );
  }
});

test('no two listeners on the machine share a port; QUIC is the only one off loopback', () => {
  const used: string[] = [];
  for (const g of GATEWAYS) {
    const s = gateway(g).server;
    used.push(`udp ${parseAddr(s.quicAddr).port}`);
    for (const a of [s.httpAddr, s.grpcAddr, s.metricsAddr]) {
      assert.equal(parseAddr(a).host, '127.0.0.1', `${g}: ${a} on loopback`);
      used.push(`tcp ${parseAddr(a).port}`);
    }
    const hc = JSON.stringify(services[g]!.healthcheck!.test);
    assert.ok(hc.includes(`:${parseAddr(s.httpAddr).port}/health`), `${g}: healthcheck on http_addr`);
  }
  for (const n of NATS) {
    const c = natsConf(n);
    for (const a of [c.client, c.monitor, c.clusterListen]) {
      assert.match(a, /^127\.0\.0\.1:/, `${n}: ${a} on loopback`);
      used.push(`tcp ${a.split(':')[1]}`);
    }
  }
  const args = services.upstreams!.command!;
  for (const flag of ['--hello', '--business', '--zone']) used.push(`tcp ${args[args.indexOf(flag) + 1]}`);
  assert.deepEqual(
    used.filter((p, i) => used.indexOf(p) !== i),
    [],
    'ports used twice',
  );
});

test('upstream targets are the demo upstreams the compose file runs, and env names are real', () => {
  const args = services.upstreams!.command!;
  const at = (flag: string) => args[args.indexOf(flag) + 1];
  for (const g of GATEWAYS) {
    const u = gateway(g).upstreamServices;
    assert.deepEqual(u.hello, [`${at('--host')}:${at('--hello')}`]);
    assert.deepEqual(u.business, [`${at('--host')}:${at('--business')}`]);
    assert.deepEqual(u.zone, [`${at('--host')}:${at('--zone')}`]);
  }
  const known = new Set(envVarNames().map((e) => e.name));
  for (const g of GATEWAYS) {
    for (const key of Object.keys(envOf(services[g]!))) assert.ok(known.has(key), `${g}: ${key} is read`);
  }
});
