import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  CONFIG_FLAG_OPTIONS,
  ConfigError,
  configFromObject,
  configFromYamlText,
  envVarNames,
  loadConfig,
} from '../../src/config/load.js';
import { defaultConfig, FIELD_BY_PATH, FIELDS } from '../../src/config/schema.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'gatesvr-config-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function yamlFile(text: string): string {
  const file = join(tmp, `c${n++}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** Asserts a ConfigError whose one-line message names the key. */
function assertConfigError(fn: () => unknown, key: string, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(
      err.message.startsWith(`config: ${key}: `),
      `message ${JSON.stringify(err.message)} should name ${key}`,
    );
    assert.ok(!err.message.includes('\n'), 'message is one line');
    assert.equal(err.key, key);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('loadConfig layers', () => {
  it('no --config, no env: the defaults', () => {
    assert.deepEqual(loadConfig({ argv: [], env: {} }), defaultConfig());
  });

  it('loads YAML and converts durations to ms', () => {
    const file = yamlFile(`
server:
  quic_addr: "127.0.0.1:0"
  ack_timeout: "1m30s"
  max_retries: 5
  resume_window: 1500
upstream_services:
  hello: ["localhost:8081"]
  business: "a:1, b:2"
  routes: { echo: business }
overload_protection:
  enabled: no
backup:
  heartbeat:
    interval: "500ms"
    timeout: "2s"
log:
  level: DEBUG
`);
    const c = loadConfig({ argv: ['--config', file], env: {} });
    assert.equal(c.server.quicAddr, '127.0.0.1:0');
    assert.equal(c.server.ackTimeoutMs, 90_000);
    assert.equal(c.server.maxRetries, 5);
    assert.equal(c.server.resumeWindowMs, 1500);
    assert.equal(c.server.httpAddr, ':8080', 'untouched keys keep defaults');
    assert.deepEqual(c.upstreamServices.hello, ['localhost:8081']);
    assert.deepEqual(c.upstreamServices.business, ['a:1', 'b:2']);
    assert.deepEqual(c.upstreamServices.zone, []);
    assert.deepEqual(c.upstreamServices.routes, { echo: 'business' });
    assert.equal(c.overloadProtection.enabled, false);
    assert.equal(c.backup.heartbeat.intervalMs, 500);
    assert.equal(c.log.level, 'debug');
  });

  it('empty file and null leaves keep the defaults', () => {
    assert.deepEqual(loadConfig({ argv: ['--config', yamlFile('')], env: {} }), defaultConfig());
    assert.deepEqual(configFromYamlText('server:\n  cert_file:\nnats:\n'), defaultConfig());
  });

  it('accepts the seed keys (test-config.yaml / 6.5.1 shape)', () => {
    const c = configFromYamlText(`
server: { quic_addr: ":8453", cert_file: "certs/server.crt", key_file: "certs/server.key", session_timeout: "5m", ack_timeout: "30s", max_retries: 3 }
async: { max_workers: 16, max_queue_size: 10000, task_timeout: "30s" }
backup:
  enabled: false
  mode: "primary"
  server_id: "gate-prod-001"
  heartbeat: { interval: "2s", peer_addr: "backup-server:8093", timeout: "6s" }
  sync: { peer_addr: "backup-server:8094", batch_size: 100, timeout: "200ms", buffer_size: 10000 }
`);
    assert.equal(c.async.maxWorkers, 16);
    assert.equal(c.backup.sync.batchSize, 100);
    assert.equal(c.server.certFile, 'certs/server.crt');
  });

  it('env overrides the file (systematic names and seed aliases)', () => {
    const file = yamlFile('server:\n  ack_timeout: "10s"\n  http_addr: ":1111"\nlog:\n  level: warn\n');
    const c = loadConfig({
      argv: ['--config', file],
      env: {
        GATESVR_SERVER_ACK_TIMEOUT: '2s',
        GATESVR_HTTP_ADDR: ':2222',
        GATESVR_QUIC_ADDR: ':3333',
        GATESVR_SERVER_QUIC_ADDR: ':4444',
        GATESVR_NATS_URL: 'nats://127.0.0.1:4222',
        GATESVR_AUTH_MODE: 'jwt',
        GATESVR_AUTH_JWT_SECRET: 's3cret-s3cret-s3cret-s3cret-s3cret',
        GATESVR_BACKUP_ENABLED: 'true',
        GATESVR_BACKUP_MODE: 'backup',
        GATESVR_BACKUP_HEARTBEAT_TIMEOUT: '7s',
        GATESVR_UPSTREAM_SERVICES_ZONE: 'z1:1,z2:2',
        GATESVR_UPSTREAM_SERVICES_ROUTES: 'buy=zone',
        GATESVR_LOG_LEVEL: 'silent',
        GATESVR_OVERLOAD_PROTECTION_MAX_QPS: '5',
        GATESVR_SERVER_MAX_QUEUE: '', // empty = unset
        GATESVR_SOMETHING_ELSE: 'ignored',
      },
    });
    assert.equal(c.server.ackTimeoutMs, 2000);
    assert.equal(c.server.httpAddr, ':2222');
    assert.equal(c.server.quicAddr, ':4444', 'systematic name wins over the seed alias');
    assert.equal(c.nats.url, 'nats://127.0.0.1:4222');
    assert.equal(c.auth.mode, 'jwt');
    assert.equal(c.auth.jwtSecret, 's3cret-s3cret-s3cret-s3cret-s3cret');
    assert.equal(c.backup.enabled, true);
    assert.equal(c.backup.mode, 'backup');
    assert.equal(c.backup.heartbeat.timeoutMs, 7000);
    assert.deepEqual(c.upstreamServices.zone, ['z1:1', 'z2:2']);
    assert.deepEqual(c.upstreamServices.routes, { buy: 'zone' });
    assert.equal(c.log.level, 'silent');
    assert.equal(c.overloadProtection.maxQps, 5);
    assert.equal(c.server.maxQueue, 1000);
  });

  it('GATESVR_CONFIG names the file when --config is absent', () => {
    const file = yamlFile('server:\n  max_retries: 7\n');
    assert.equal(loadConfig({ argv: [], env: { GATESVR_CONFIG: file } }).server.maxRetries, 7);
    const other = yamlFile('server:\n  max_retries: 8\n');
    assert.equal(
      loadConfig({ argv: ['--config', other], env: { GATESVR_CONFIG: file } }).server.maxRetries,
      8,
    );
  });

  it('flags beat env, --set beats named flags', () => {
    const env = {
      GATESVR_QUIC_ADDR: ':1',
      GATESVR_LOG_LEVEL: 'silent',
      GATESVR_AUTH_MODE: 'jwt',
      GATESVR_AUTH_JWT_SECRET: 'x'.repeat(32),
      GATESVR_BACKUP_SERVER_ID: 'env-id',
    };
    const c = loadConfig({
      argv: [
        '--quic-addr',
        '127.0.0.1:5',
        '--http-addr=:6',
        '--grpc-addr',
        ':7',
        '--metrics-addr',
        ':8',
        '--log-level',
        'debug',
        '--auth-mode',
        'none',
        '--server-id',
        'flag-id',
        '--nats-url',
        'nats://n:4222',
        '--backup-mode',
        'backup',
        '--backup',
        '--set',
        'server.ack_timeout=1s',
        '--set',
        'upstream_services.hello=h:1,h:2',
        '--set',
        'backup.server_id=set-id',
        'serve', // positionals are left to the CLI
      ],
      env,
    });
    assert.equal(c.server.quicAddr, '127.0.0.1:5');
    assert.equal(c.server.httpAddr, ':6');
    assert.equal(c.server.grpcAddr, ':7');
    assert.equal(c.server.metricsAddr, ':8');
    assert.equal(c.log.level, 'debug');
    assert.equal(c.auth.mode, 'none');
    assert.equal(c.nats.url, 'nats://n:4222');
    assert.equal(c.backup.mode, 'backup');
    assert.equal(c.backup.enabled, true);
    assert.equal(c.backup.serverId, 'set-id');
    assert.equal(c.server.ackTimeoutMs, 1000);
    assert.deepEqual(c.upstreamServices.hello, ['h:1', 'h:2']);
  });

  it('accepts Go-style single-dash flags (seed: ./gatesvr -config=config.yaml)', () => {
    const file = yamlFile('server:\n  max_retries: 9\n');
    assert.equal(loadConfig({ argv: [`-config=${file}`], env: {} }).server.maxRetries, 9);
    assert.equal(loadConfig({ argv: ['-c', file], env: {} }).server.maxRetries, 9);
    assert.equal(loadConfig({ argv: ['-quic-addr', ':99'], env: {} }).server.quicAddr, ':99');
  });

  it('unknown flags are errors unless allowed', () => {
    assert.throws(
      () => loadConfig({ argv: ['--nope'], env: {} }),
      (e: unknown) => {
        return e instanceof ConfigError && /^config: unknown flag --nope;/.test(e.message);
      },
    );
    assert.equal(
      loadConfig({ argv: ['--nope', '--max-retries=1'], env: {}, allowUnknownFlags: true }).server.maxRetries,
      3,
    );
    assert.ok(
      'quic-addr' in CONFIG_FLAG_OPTIONS && 'set' in CONFIG_FLAG_OPTIONS && 'config' in CONFIG_FLAG_OPTIONS,
    );
  });
});

describe('validation errors name the key', () => {
  it('bad duration', () => {
    assertConfigError(
      () => configFromObject({ server: { ack_timeout: '3x' } }),
      'server.ack_timeout',
      /^config: server\.ack_timeout: "3x" is not a duration \(use e\.g\. "500ms", "30s", "5m"\)$/,
    );
    assertConfigError(
      () => loadConfig({ argv: [], env: { GATESVR_SERVER_SESSION_TIMEOUT: 'soon' } }),
      'server.session_timeout',
      /from env GATESVR_SERVER_SESSION_TIMEOUT/,
    );
    assertConfigError(
      () => configFromObject({ server: { ack_timeout: '1ms' } }),
      'server.ack_timeout',
      /minimum 10ms/,
    );
  });

  it('unknown keys, with a suggestion', () => {
    const file = yamlFile('server:\n  ack_timout: "3s"\n');
    assertConfigError(
      () => loadConfig({ argv: ['--config', file], env: {} }),
      'server.ack_timout',
      /unknown key; did you mean "server\.ack_timeout"\? \(in .*c\d+\.yaml\)$/,
    );
    assertConfigError(() => configFromObject({ metrics: { addr: ':1' } }), 'metrics', /unknown key/);
    assertConfigError(
      () => configFromObject({ backup: { heartbeat: { every: '1s' } } }),
      'backup.heartbeat.every',
    );
    assertConfigError(
      () => loadConfig({ argv: ['--set', 'server.nope=1'], env: {} }),
      'server.nope',
      /from --set/,
    );
    assertConfigError(() => configFromObject({ server: ':8453' }), 'server', /expected a mapping/);
  });

  it('bad ports and addresses', () => {
    assertConfigError(
      () => configFromObject({ server: { quic_addr: ':70000' } }),
      'server.quic_addr',
      /0\.\.65535/,
    );
    assertConfigError(() => configFromObject({ server: { http_addr: '8080' } }), 'server.http_addr');
    assertConfigError(
      () => configFromObject({ server: { grpc_addr: 8092 } }),
      'server.grpc_addr',
      /quote it/,
    );
    assertConfigError(
      () => loadConfig({ argv: ['--metrics-addr', ':x'], env: {} }),
      'server.metrics_addr',
      /--metrics-addr/,
    );
    assertConfigError(
      () => configFromObject({ upstream_services: { zone: ['localhost:0'] } }),
      'upstream_services.zone',
    );
    assertConfigError(
      () => configFromObject({ upstream_services: { zone: [':8083'] } }),
      'upstream_services.zone',
    );
  });

  it('jwt without a secret, backup without NATS', () => {
    assertConfigError(
      () => configFromObject({ auth: { mode: 'jwt' } }),
      'auth.jwt_secret',
      /required when auth\.mode is "jwt"/,
    );
    assertConfigError(() => loadConfig({ argv: ['--auth-mode', 'jwt'], env: {} }), 'auth.jwt_secret');
    assertConfigError(() => configFromObject({ backup: { enabled: true } }), 'nats.url', /backup\.enabled/);
  });

  it('jwt: a secret under 32 bytes, or two key sources, refuse to start (secret not echoed)', () => {
    const short = 'only-31-bytes-of-secret-here-xx';
    assert.equal(short.length, 31);
    assert.throws(
      () => configFromObject({ auth: { mode: 'jwt', jwt_secret: short } }),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.key === 'auth.jwt_secret' &&
        /at least 32 bytes \(got 31\)/.test(e.message) &&
        !e.message.includes(short),
    );
    assertConfigError(
      () => loadConfig({ argv: [], env: { GATESVR_AUTH_MODE: 'jwt', GATESVR_AUTH_JWT_SECRET: 'x' } }),
      'auth.jwt_secret',
      /32 bytes/,
    );
    assert.equal(
      configFromObject({ auth: { mode: 'jwt', jwt_secret: `${short}y` } }).auth.jwtSecret.length,
      32,
    );
    assertConfigError(
      () => configFromObject({ auth: { mode: 'jwt', jwt_secret: 'y'.repeat(40), jwks_file: 'k.json' } }),
      'auth.jwt_secret',
      /only one of/,
    );
    const c = configFromObject({ auth: { mode: 'jwt', jwks_file: 'k.json', jwt_max_lifetime: '0' } });
    assert.equal(c.auth.jwtMaxLifetimeMs, 0);
    assert.equal(configFromObject({}).auth.jwtMaxLifetimeMs, 24 * 3_600_000);
    // mode none does not look at the secret
    assert.equal(configFromObject({ auth: { jwt_secret: 'x' } }).auth.mode, 'none');
  });

  it('types, ranges, enums and cross-field rules', () => {
    assertConfigError(
      () => configFromObject({ server: { max_retries: 'three' } }),
      'server.max_retries',
      /whole number/,
    );
    assertConfigError(() => configFromObject({ server: { max_retries: 1.5 } }), 'server.max_retries');
    assertConfigError(() => configFromObject({ server: { max_queue: 0 } }), 'server.max_queue', /minimum 1/);
    assertConfigError(
      () => configFromObject({ overload_protection: { enabled: 'maybe' } }),
      'overload_protection.enabled',
    );
    assertConfigError(() => configFromObject({ auth: { mode: 'oauth' } }), 'auth.mode', /none, jwt/);
    assertConfigError(() => configFromObject({ log: { level: 'loud' } }), 'log.level');
    assertConfigError(() => configFromObject({ nats: { url: 'http://x' } }), 'nats.url');
    assertConfigError(() => configFromObject({ nats: { stream: 'a.b' } }), 'nats.stream');
    assertConfigError(
      () => configFromObject({ upstream_services: { routes: { echo: 'nowhere' } } }),
      'upstream_services.routes',
    );
    assertConfigError(() => configFromObject({ server: { cert_file: 'a.pem' } }), 'server.key_file');
    assertConfigError(
      () => configFromObject({ backup: { heartbeat: { interval: '5s', timeout: '2s' } } }),
      'backup.heartbeat.timeout',
    );
  });

  it('secrets are never echoed', () => {
    assert.throws(
      () => configFromObject({ auth: { jwt_secret: 123456 } }),
      (e: unknown) => e instanceof ConfigError && !e.message.includes('123456'),
    );
  });

  it('YAML syntax errors and missing files are one line', () => {
    assert.throws(
      () => loadConfig({ argv: ['--config', yamlFile('server:\n  a: 1\n   b: 2\n')], env: {} }),
      (e: unknown) =>
        e instanceof ConfigError && /YAML error at line \d+/.test(e.message) && !e.message.includes('\n'),
    );
    assert.throws(
      () =>
        loadConfig({
          argv: ['--config', yamlFile('server:\n  max_retries: 1\n  max_retries: 2\n')],
          env: {},
        }),
      /Map keys must be unique/,
    );
    assert.throws(() => loadConfig({ argv: ['--config', join(tmp, 'missing.yaml')], env: {} }), {
      name: 'ConfigError',
      message: /^config: cannot read config file ".*missing\.yaml": no such file$/,
    });
  });
});

describe('push API, upstream and NATS transport security keys', () => {
  it('the push API listens on loopback unless configured', () => {
    assert.equal(loadConfig({ argv: [], env: {} }).server.grpcAddr, '127.0.0.1:8092');
    assert.equal(loadConfig({ argv: [], env: { GATESVR_GRPC_ADDR: ':8092' } }).server.grpcAddr, ':8092');
  });

  it('loads every key from YAML and the secrets from the environment', () => {
    const file = yamlFile(
      [
        'push_api:',
        '  token_file: "/run/secrets/push"',
        '  cert_file: "/tls/push.crt"',
        '  key_file: "/tls/push.key"',
        '  client_ca_file: "/tls/producers.pem"',
        'upstream_tls:',
        '  ca_file: "/tls/upstreams.pem"',
        '  cert_file: "/tls/gw.crt"',
        '  key_file: "/tls/gw.key"',
        '  server_name: "upstreams.internal"',
        'nats:',
        '  url: "tls://nats:4222"',
        '  tls_ca_file: "/tls/nats-ca.pem"',
        '  tls_cert_file: "/tls/nats.crt"',
        '  tls_key_file: "/tls/nats.key"',
        '  creds_file: "/run/secrets/gate.creds"',
      ].join('\n'),
    );
    const c = loadConfig({ argv: ['--config', file], env: {} });
    assert.deepEqual(c.pushApi, {
      token: '',
      tokenFile: '/run/secrets/push',
      certFile: '/tls/push.crt',
      keyFile: '/tls/push.key',
      clientCaFile: '/tls/producers.pem',
    });
    assert.deepEqual(c.upstreamTls, {
      enabled: false,
      caFile: '/tls/upstreams.pem',
      certFile: '/tls/gw.crt',
      keyFile: '/tls/gw.key',
      serverName: 'upstreams.internal',
    });
    assert.equal(c.nats.tlsCaFile, '/tls/nats-ca.pem');
    assert.equal(c.nats.credsFile, '/run/secrets/gate.creds');

    const e = loadConfig({
      argv: [],
      env: {
        GATESVR_PUSH_API_TOKEN: 'p-tok',
        GATESVR_NATS_USER: 'gate',
        GATESVR_NATS_PASSWORD: 'pw',
        GATESVR_UPSTREAM_TLS_ENABLED: 'true',
      },
    });
    assert.equal(e.pushApi.token, 'p-tok');
    assert.equal(e.nats.user, 'gate');
    assert.equal(e.nats.password, 'pw');
    assert.equal(e.upstreamTls.enabled, true);
    assert.equal(loadConfig({ argv: [], env: { GATESVR_NATS_TOKEN: 'n-tok' } }).nats.token, 'n-tok');
  });

  it('secrets have no flag (a flag shows in ps)', () => {
    for (const path of ['push_api.token', 'nats.token', 'nats.password']) {
      const spec = FIELD_BY_PATH.get(path)!;
      assert.equal(spec.kind, 'secret', path);
      assert.equal(spec.flag, undefined, path);
    }
  });

  it('cross-field rules', () => {
    assertConfigError(
      () => configFromObject({ push_api: { token: 't', token_file: '/f' } }),
      'push_api.token_file',
      /not both/,
    );
    assertConfigError(() => configFromObject({ push_api: { cert_file: '/c' } }), 'push_api.key_file');
    assertConfigError(() => configFromObject({ push_api: { key_file: '/k' } }), 'push_api.cert_file');
    assertConfigError(
      () => configFromObject({ push_api: { client_ca_file: '/ca' } }),
      'push_api.client_ca_file',
      /mTLS needs TLS/,
    );
    assertConfigError(() => configFromObject({ upstream_tls: { cert_file: '/c' } }), 'upstream_tls.key_file');
    assertConfigError(() => configFromObject({ nats: { tls_key_file: '/k' } }), 'nats.tls_cert_file');
    assertConfigError(() => configFromObject({ nats: { user: 'u' } }), 'nats.password');
    assertConfigError(
      () => configFromObject({ nats: { token: 't', creds_file: '/c' } }),
      'nats.token',
      /one NATS authentication method at most \(also set: nats.creds_file\)/,
    );
  });

  it('NATS URL errors never echo credentials', () => {
    assert.throws(
      () => configFromObject({ nats: { url: 'nats://gate:hunter2@bad host:4222' } }),
      (e: unknown) =>
        e instanceof ConfigError && !e.message.includes('hunter2') && e.message.includes('***@'),
    );
  });
});

describe('shipped files', () => {
  it('config/gatesvr.yaml loads to exactly the defaults and lists every key', () => {
    const file = join(root, 'config/gatesvr.yaml');
    assert.deepEqual(loadConfig({ argv: ['--config', file], env: {} }), defaultConfig());
    const leaves: string[] = [];
    const walk = (o: Record<string, unknown>, prefix: string) => {
      for (const [k, v] of Object.entries(o)) {
        const p = prefix ? `${prefix}.${k}` : k;
        if (FIELD_BY_PATH.has(p)) leaves.push(p);
        else walk(v as Record<string, unknown>, p);
      }
    };
    walk(parse(readFileSync(file, 'utf8')), '');
    assert.deepEqual(leaves.sort(), FIELDS.map((s) => s.path).sort());
  });

  it('config/example-cluster.yaml loads (jwt, nats, backup primary) with its secret from the environment', () => {
    const file = join(root, 'config/example-cluster.yaml');
    // The example ships no secret: without the variable it refuses to start.
    assert.throws(() => loadConfig({ argv: ['--config', file], env: {} }), /jwt_secret/);
    const env = { GATESVR_AUTH_JWT_SECRET: 'x'.repeat(32) };
    const c = loadConfig({ argv: ['--config', file], env });
    assert.equal(c.auth.mode, 'jwt');
    assert.equal(c.auth.jwtSecret, 'x'.repeat(32));
    assert.equal(c.nats.url, 'nats://127.0.0.1:4222');
    assert.equal(c.backup.enabled, true);
    assert.equal(c.backup.mode, 'primary');
    assert.deepEqual(c.upstreamServices.hello, ['localhost:8081']);
    const b = loadConfig({
      argv: [
        '--config',
        join(root, 'config/example-cluster.yaml'),
        '--backup-mode',
        'backup',
        '--server-id',
        'gate-002',
      ],
      env,
    });
    assert.equal(b.backup.mode, 'backup');
    assert.equal(b.backup.serverId, 'gate-002');
  });

  it('docs/configuration.md mentions every key, env var and flag', () => {
    const doc = readFileSync(join(root, 'docs/configuration.md'), 'utf8');
    for (const s of FIELDS) {
      assert.ok(doc.includes(`\`${s.path}\``), `docs miss key ${s.path}`);
      if (s.flag) assert.ok(doc.includes(`--${s.flag}`), `docs miss flag --${s.flag}`);
    }
    for (const { name } of envVarNames()) assert.ok(doc.includes(name), `docs miss env ${name}`);
  });
});
