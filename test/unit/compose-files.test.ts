/**
 * docker-compose.yml, the configs it mounts, config/prometheus.yml and the
 * Dockerfile agree with each other and with the config loader (Docker itself
 * does not run here): mounted files exist and load, ports match, env names are
 * real, upstream / NATS / Prometheus targets name compose services.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { configFromYamlText, envVarNames } from '../../src/config/load.js';
import { parseAddr } from '../../src/config/schema.js';
import {
  composeServices,
  envOf,
  mountedGatewayConfig,
  mountSource,
  REQUIRED_VALUE,
  read,
  root,
  type Service,
} from '../helpers/compose.js';

const services = composeServices('docker-compose.yml');
const GATEWAYS = ['gatesvr-primary', 'gatesvr-backup'];

/** Container ports a service publishes or exposes: "9453:8453/udp" -> "8453/udp". */
function containerPorts(svc: Service): Set<string> {
  const out = new Set<string>();
  for (const p of svc.ports ?? []) {
    const [mapping, proto = 'tcp'] = p.split('/');
    const parts = mapping!.split(':');
    out.add(`${parts[parts.length - 1]}/${proto}`);
  }
  for (const p of svc.expose ?? []) {
    const [port, proto = 'tcp'] = p.split('/');
    out.add(`${port}/${proto}`);
  }
  return out;
}

const gatewayConfig = (name: string) => mountedGatewayConfig(services, name);

test('the compose file has the gateways, NATS, demo upstreams, Prometheus and Grafana, each with a health check', () => {
  for (const name of ['nats', 'upstreams', ...GATEWAYS, 'prometheus', 'grafana']) {
    assert.ok(services[name], `service ${name}`);
    assert.ok(services[name]!.healthcheck?.test, `${name} has a healthcheck`);
  }
  const nats = services.nats!;
  assert.match(nats.image ?? '', /^nats:2\.10/);
  assert.ok(nats.command?.includes('-js'), 'NATS runs JetStream');
  for (const g of GATEWAYS) {
    assert.ok(services[g]!.build, `${g} builds the image`);
    assert.equal(services[g]!.depends_on?.nats?.condition, 'service_healthy');
  }
  assert.deepEqual(services.upstreams!.command?.slice(0, 1), ['demo-upstreams']);
});

test('every mounted config exists and loads (with the service environment) through the config loader', () => {
  for (const g of GATEWAYS) {
    const { file, cfg } = gatewayConfig(g);
    // The file alone is valid too (environment only overrides).
    configFromYamlText(readFileSync(file, 'utf8'), file);
    assert.equal(cfg.backup.enabled, true, `${g}: backup pair`);
    assert.notEqual(cfg.admin.token, '', `${g}: admin token from the environment`);
  }
  const primary = gatewayConfig('gatesvr-primary').cfg;
  const backup = gatewayConfig('gatesvr-backup').cfg;
  assert.equal(primary.backup.mode, 'primary');
  assert.equal(backup.backup.mode, 'backup');
  assert.notEqual(primary.backup.serverId, backup.backup.serverId);
  assert.equal(primary.nats.url, backup.nats.url, 'one NATS server for the pair');
});

test('a published push API requires a token from the environment, with no well-known default', () => {
  for (const g of GATEWAYS) {
    const { cfg } = gatewayConfig(g);
    const grpcPort = parseAddr(cfg.server.grpcAddr).port;
    const published = (services[g]!.ports ?? []).some((p) => p.split('/')[0]!.endsWith(`:${grpcPort}`));
    assert.ok(published, `${g}: push API published`);
    const raw = String(envOf(services[g]!).GATESVR_PUSH_API_TOKEN ?? '');
    assert.match(raw, /^\$\{GATESVR_PUSH_API_TOKEN:\?[^}]+\}$/, `${g}: token required from the environment`);
    assert.equal(cfg.pushApi.token, REQUIRED_VALUE, `${g}: the token reaches push_api.token`);
  }
});

test('environment variable names used in compose are ones the config loader reads', () => {
  const known = new Set(envVarNames().map((e) => e.name));
  for (const [name, svc] of Object.entries(services)) {
    for (const key of Object.keys(envOf(svc))) {
      if (!key.startsWith('GATESVR_')) continue;
      assert.ok(known.has(key), `${name}: ${key} is not read by the config loader`);
    }
  }
});

test('ports in the configs match the ports the compose services publish', () => {
  for (const g of GATEWAYS) {
    const { cfg } = gatewayConfig(g);
    const ports = containerPorts(services[g]!);
    const s = cfg.server;
    assert.ok(
      ports.has(`${parseAddr(s.quicAddr).port}/udp`),
      `${g}: QUIC port ${s.quicAddr} published as UDP`,
    );
    for (const addr of [s.httpAddr, s.grpcAddr, s.metricsAddr]) {
      assert.ok(ports.has(`${parseAddr(addr).port}/tcp`), `${g}: ${addr} published`);
    }
    const hc = JSON.stringify(services[g]!.healthcheck!.test);
    assert.ok(hc.includes(`:${parseAddr(s.httpAddr).port}/`), `${g}: healthcheck uses http_addr`);
  }
  assert.match(JSON.stringify(services['gatesvr-primary']!.healthcheck!.test), /\/health/);
  // Host ports do not collide.
  const hostPorts = Object.values(services).flatMap((svc) => (svc.ports ?? []).map((p) => p.split(':')[0]!));
  for (const p of hostPorts)
    assert.equal(hostPorts.filter((q) => q === p).length, 1, `host port ${p} published twice`);
});

test('upstream and NATS targets in the configs are compose services on ports they listen on', () => {
  const upstreams = services.upstreams!;
  const args = upstreams.command ?? [];
  const portOf = (flag: string, dflt: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1]! : dflt);
  const listening: Record<string, string> = {
    hello: portOf('--hello', '8081'),
    business: portOf('--business', '8082'),
    zone: portOf('--zone', '8083'),
  };
  assert.ok(
    args.includes('--host') && args[args.indexOf('--host') + 1] === '0.0.0.0',
    'upstreams listen on all interfaces',
  );
  const upstreamPorts = containerPorts(upstreams);
  for (const g of GATEWAYS) {
    const { cfg } = gatewayConfig(g);
    for (const svc of ['hello', 'business', 'zone'] as const) {
      const targets = cfg.upstreamServices[svc];
      assert.ok(targets.length > 0, `${g}: ${svc} configured (no in-process demo in compose)`);
      for (const t of targets) {
        const { host, port } = parseAddr(t, { requireHost: true });
        assert.equal(host, 'upstreams', `${g}: ${svc} target ${t}`);
        assert.equal(String(port), listening[svc], `${g}: ${svc} port`);
        assert.ok(upstreamPorts.has(`${port}/tcp`), `upstreams exposes ${port}`);
      }
    }
    const url = new URL(cfg.nats.url);
    assert.ok(services[url.hostname], `${g}: nats.url host ${url.hostname} is a service`);
    assert.ok(containerPorts(services[url.hostname]!).has(`${url.port || '4222'}/tcp`), 'NATS port exposed');
  }
});

test('Prometheus scrapes /metrics of every gateway at its metrics_addr', () => {
  const prom = services.prometheus!;
  assert.equal(
    mountSource(prom, '/etc/prometheus/prometheus.yml'),
    'config/prometheus.yml',
    'prometheus.yml mounted',
  );
  const cfg = parse(read('config/prometheus.yml')) as {
    scrape_configs: Array<{
      job_name: string;
      metrics_path?: string;
      static_configs: Array<{ targets: string[] }>;
    }>;
  };
  const job = cfg.scrape_configs.find((j) => j.job_name === 'gatesvr');
  assert.ok(job, 'a gatesvr scrape job');
  assert.equal(job.metrics_path ?? '/metrics', '/metrics');
  const targets = job.static_configs.flatMap((s) => s.targets);
  for (const g of GATEWAYS) {
    const port = parseAddr(gatewayConfig(g).cfg.server.metricsAddr).port;
    assert.ok(targets.includes(`${g}:${port}`), `scrapes ${g}:${port}`);
  }
  for (const t of targets) {
    const host = t.slice(0, t.lastIndexOf(':'));
    assert.ok(GATEWAYS.includes(host), `target ${t} is a gateway service`);
  }
});

test('the Dockerfile is multi-stage on node:20-bookworm-slim, exposes the seed ports and checks /health', () => {
  const df = read('Dockerfile');
  const froms = [...df.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms) assert.equal(f, 'node:20-bookworm-slim');
  assert.match(df, /npm ci --no-audit --no-fund\n/);
  assert.match(df, /npm run build/);
  assert.match(df, /npm ci --omit=dev/);
  const expose = /^EXPOSE\s+(.+)$/m.exec(df)?.[1]?.split(/\s+/) ?? [];
  for (const p of ['8453/udp', '8080', '8092', '9090']) assert.ok(expose.includes(p), `EXPOSE ${p}`);
  assert.match(df, /^HEALTHCHECK .*\n?.*\/health/m);
  assert.ok(existsSync(join(root, '.dockerignore')));
  // The image's default config is a real, loadable file.
  const cmd = /^CMD \[(.*)\]$/m.exec(df)?.[1] ?? '';
  const cfgPath = /"--config", "([^"]+)"/.exec(cmd)?.[1];
  assert.ok(cfgPath && existsSync(join(root, cfgPath)), `default config ${cfgPath} exists`);
  configFromYamlText(read(cfgPath), cfgPath);
});

/** Environment names that carry a credential. */
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASS$|_KEY$|CREDENTIALS/;

test('no well-known secrets: every credential in compose is a required variable without a default', () => {
  const text = read('docker-compose.yml');
  assert.doesNotMatch(text, /change-me/i, 'no placeholder secret in docker-compose.yml');
  let secrets = 0;
  for (const [name, svc] of Object.entries(services)) {
    for (const [key, raw] of Object.entries(envOf(svc))) {
      if (!SECRET_NAME.test(key)) continue;
      secrets++;
      assert.match(
        String(raw),
        /^\$\{[A-Z0-9_]+:\?[^}]+\}$/,
        `${name}: ${key} must be "\${VAR:?message}" (compose refuses to start without it), not ${raw}`,
      );
    }
  }
  assert.ok(secrets >= GATEWAYS.length, 'the gateways take their admin token from the environment');
  assert.match(
    String(envOf(services.grafana!).GF_SECURITY_ADMIN_PASSWORD ?? ''),
    /^\$\{[A-Z0-9_]+:\?[^}]+\}$/,
    'grafana: the admin password is required from the environment (no admin/admin)',
  );
  assert.notEqual(envOf(services.grafana!).GF_AUTH_ANONYMOUS_ENABLED, 'true', 'grafana: no anonymous access');
  for (const g of GATEWAYS) {
    const { file, cfg } = gatewayConfig(g);
    assert.equal(cfg.admin.token, REQUIRED_VALUE, `${g}: admin.token comes from GATESVR_ADMIN_TOKEN`);
    // The mounted file holds no credential of its own.
    const own = configFromYamlText(readFileSync(file, 'utf8'), file);
    assert.equal(own.admin.token, '', `${g}: no admin token in ${file}`);
    assert.doesNotMatch(readFileSync(file, 'utf8'), /change-me/i);
  }
});

test('NATS is reachable on the compose network only (nothing published to the host)', () => {
  assert.deepEqual(services.nats!.ports ?? [], [], 'nats publishes no port');
});

test('NATS requires a token that compose makes required, and the gateways send the same one', () => {
  const nats = services.nats!;
  const args = nats.command ?? [];
  const conf = args[args.indexOf('-c') + 1];
  assert.ok(args.includes('-c') && conf, 'nats runs with a config file');
  const mount = mountSource(nats, conf);
  assert.ok(mount, `${conf} is mounted`);
  const text = read(mount);
  assert.match(text, /authorization\s*\{[^}]*token:\s*\$NATS_TOKEN/, 'token auth from the environment');
  const natsEnv = String(envOf(nats).NATS_TOKEN ?? '');
  assert.match(natsEnv, /^\$\{GATESVR_NATS_TOKEN:\?[^}]+\}$/);
  for (const g of GATEWAYS) {
    assert.match(String(envOf(services[g]!).GATESVR_NATS_TOKEN ?? ''), /^\$\{GATESVR_NATS_TOKEN:\?[^}]+\}$/);
    assert.equal(gatewayConfig(g).cfg.nats.token, REQUIRED_VALUE, `${g}: nats.token from GATESVR_NATS_TOKEN`);
  }
});

test('Grafana: pinned image, provisioned Prometheus datasource and the GateSvr dashboard', () => {
  const grafana = services.grafana!;
  assert.match(
    grafana.image ?? '',
    /^grafana\/grafana-oss:\d+\.\d+\.\d+$/,
    'grafana-oss at a pinned version',
  );
  assert.equal(grafana.depends_on?.prometheus?.condition, 'service_healthy');
  assert.ok(containerPorts(grafana).has('3000/tcp'), 'the UI port is published');

  const provisioning = mountSource(grafana, '/etc/grafana/provisioning');
  assert.equal(provisioning, 'deploy/grafana/provisioning');
  const dsFile = parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
    datasources: Array<{ type: string; uid: string; url: string; isDefault?: boolean }>;
  };
  const ds = dsFile.datasources.find((d) => d.type === 'prometheus');
  assert.ok(ds, 'a Prometheus datasource');
  const url = new URL(ds.url);
  assert.equal(url.hostname, 'prometheus', 'the datasource is the compose prometheus service');
  assert.ok(containerPorts(services.prometheus!).has(`${url.port}/tcp`), `prometheus listens on ${url.port}`);

  const providers = parse(read('deploy/grafana/provisioning/dashboards/gatesvr.yml')) as {
    providers: Array<{ type: string; options: { path: string } }>;
  };
  const dir = providers.providers.find((p) => p.type === 'file')?.options.path;
  assert.ok(dir, 'a file dashboard provider');
  const target = `${dir}/gatesvr.json`;
  assert.equal(
    mountSource(grafana, target),
    'deploy/grafana/gatesvr.json',
    `the dashboard is mounted at ${target}`,
  );
  assert.equal(envOf(grafana).GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH, target, 'it is the home dashboard');

  // Every panel, query and variable uses the provisioned datasource (by uid).
  const dash = JSON.parse(read('deploy/grafana/gatesvr.json')) as {
    uid: string;
    panels: Array<{
      type: string;
      datasource?: { uid: string };
      targets?: Array<{ datasource?: { uid: string } }>;
    }>;
    templating: { list: Array<{ datasource?: { uid: string } }> };
  };
  assert.ok(dash.uid, 'a stable dashboard uid');
  const uids = [
    ...dash.panels
      .filter((p) => p.type !== 'row')
      .flatMap((p) => [p.datasource, ...(p.targets ?? []).map((t) => t.datasource)]),
    ...dash.templating.list.map((v) => v.datasource),
  ].map((d) => d?.uid);
  assert.ok(uids.length > 0);
  for (const uid of uids) assert.equal(uid, ds.uid, 'panel datasource is the provisioned one');
});
