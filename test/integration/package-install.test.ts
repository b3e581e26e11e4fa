/**
 * The npm package as a user gets it: `npm pack` (its prepack builds dist/) and
 * `npm install ./gatesvr-*.tgz` into an empty project, from the npm cache the
 * repository's own install filled (--prefer-offline: only what the cache lacks is
 * fetched). In that project: `npx gatesvr --help`; `npx gatesvr` on port 0 with
 * the embedded demo upstreams, a client written against `gatesvr/client` logs in
 * and echoes, SIGTERM stops it with exit 0; a TypeScript consumer type-checks
 * against the shipped declarations; and `npm ci` accepts the project's lock file
 * once `gatesvr-lock-natives` recorded @matrixai/quic's unpublished natives.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';
import { forgetDir, reapOnExit, removeOnExit } from '../helpers/child-reaper.js';
import { waitFor } from '../helpers/gateway.js';

const root = new URL('../..', import.meta.url).pathname;
const read = (p: string) => readFileSync(join(root, p), 'utf8');
// The child npm and node processes of this test log normally (the runner sets silent).
const env = {
  ...process.env,
  GATESVR_LOG_LEVEL: 'info',
  npm_config_audit: 'false',
  npm_config_fund: 'false',
};

function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000) {
  const started = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs });
  const ms = Math.round(performance.now() - started);
  const out = `${cmd} ${args.join(' ')} (exit ${r.status ?? r.signal}, ${ms} ms)\n${r.stdout}\n${r.stderr}`;
  return { status: r.status, stdout: r.stdout, ms, out };
}

describe('npm package: the tarball installed into an empty project', { timeout: 420_000 }, () => {
  let dir: string;
  let app: string;
  let tarball: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatesvr-pkg-'));
    removeOnExit(dir);
    const pack = run('npm', ['pack', '--pack-destination', dir], root, 300_000);
    assert.equal(pack.status, 0, pack.out);
    const name = readdirSync(dir).find((f) => /^gatesvr-.*\.tgz$/.test(f));
    assert.ok(name, `no gatesvr-*.tgz in ${dir}: ${pack.out}`);
    tarball = join(dir, name);
    app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
    const install = run('npm', ['install', `../${name}`, '--prefer-offline'], app);
    assert.equal(install.status, 0, install.out);
    console.log(`# npm pack: ${pack.ms} ms; npm install of the tarball: ${install.ms} ms`);
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
    forgetDir(dir);
  });

  it('ships the build, its declarations, the protos and the default config; no sources, tests or maps', () => {
    const list = run('tar', ['-tzf', tarball], dir);
    assert.equal(list.status, 0, list.out);
    const files = list.stdout.split('\n').filter(Boolean);
    for (const f of [
      'package/dist/src/cli/main.js',
      'package/dist/src/index.d.ts',
      'package/dist/src/client/index.d.ts',
      'package/dist/src/gen/proto.js',
      'package/proto/upstream.proto',
      'package/config/gatesvr.yaml',
    ]) {
      assert.ok(files.includes(f), `${f} is in the tarball`);
    }
    // Every export (and bin) target ships: an export added without its build step (the browser
    // bundle, dist/browser/, built by the SDK's esbuild step) fails here.
    const pkg = JSON.parse(read('package.json')) as {
      exports: Record<string, unknown>;
      bin: Record<string, string>;
    };
    const targets = [
      ...Object.values(pkg.exports).flatMap((e) =>
        typeof e === 'string' ? [e] : Object.values(e as object),
      ),
      ...Object.values(pkg.bin),
    ];
    for (const t of targets) assert.ok(files.includes(join('package', String(t))), `${t} is in the tarball`);
    const stray = files.filter((f) =>
      /^package\/(src|test|bench|node_modules)\/|\.map$|\.ts$(?<!\.d\.ts$)/.test(f),
    );
    assert.deepEqual(stray, []);
  });

  it('npx gatesvr --help prints the usage', () => {
    const r = run('npx', ['--no-install', 'gatesvr', '--help'], app, 60_000);
    assert.equal(r.status, 0, r.out);
    assert.match(r.stdout, /usage: gatesvr/);
  });

  it('npx gatesvr on free ports serves a client of gatesvr/client, and SIGTERM stops it with exit 0', async () => {
    const config = join(app, 'gatesvr.yaml');
    writeFileSync(
      config,
      stringify({
        server: {
          quic_addr: '127.0.0.1:0',
          grpc_addr: '127.0.0.1:0',
          http_addr: '127.0.0.1:0',
          metrics_addr: '127.0.0.1:0',
        },
      }),
    );
    // Not through npx: its wrapper process would take the signal, not the gateway.
    const child = spawn(process.execPath, [join(app, 'node_modules/.bin/gatesvr'), '--config', config], {
      cwd: app,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    reapOnExit(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const listening = () =>
      out
        .split('\n')
        .map((l) => {
          try {
            return JSON.parse(l) as { msg?: string; quic?: string };
          } catch {
            return {};
          }
        })
        .find((l) => l.msg === 'gateway listening');
    try {
      await waitFor(() => listening() !== undefined || child.exitCode !== null, 60_000, 'gateway listening');
      const line = listening();
      assert.ok(line, `the gateway logs "gateway listening": ${out}\n${err}`);
      const port = Number(String(line.quic).split(':').pop());
      assert.ok(port > 0, JSON.stringify(line));

      writeFileSync(
        join(app, 'client.mjs'),
        [
          "import { GateClient } from 'gatesvr/client';",
          "import * as gatesvr from 'gatesvr';",
          'const port = Number(process.argv[2]);',
          "const c = await GateClient.connect({ host: '127.0.0.1', port, openid: 'pkg', insecure: true });",
          "const hello = await c.request('hello', { zone: '1' });",
          "const echo = await c.request('echo', {}, Buffer.from('from the tarball'));",
          'c.close();',
          'console.log(JSON.stringify({ hello: hello.code, echo: echo.code, data: Buffer.from(echo.data).toString(),',
          '  startGateway: typeof gatesvr.startGateway, sameClient: gatesvr.GateClient === GateClient }));',
        ].join('\n'),
      );
      const r = run(process.execPath, ['client.mjs', String(port)], app, 60_000);
      assert.equal(r.status, 0, r.out);
      assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}'), {
        hello: 0,
        echo: 0,
        data: 'from the tarball',
        startGateway: 'function',
        sameClient: true,
      });
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0, err);
  });

  it('a TypeScript consumer type-checks against the shipped declarations (and a wrong type is refused)', () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      [
        "import { GateClient, type GateClientOptions } from 'gatesvr/client';",
        "import { type GatewayConfig, startGateway } from 'gatesvr';",
        "const options: GateClientOptions = { host: '127.0.0.1', port: 8453, openid: 'alice', autoResume: true };",
        '// @ts-expect-error port is a number: fails as unused if the declarations were missing (any)',
        "const wrong: GateClientOptions = { host: '127.0.0.1', port: '8453', openid: 'alice' };",
        'export const run = async (cfg: GatewayConfig) => [await GateClient.connect(options), await startGateway(cfg), wrong];',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(root, 'node_modules/@types')],
        },
        files: ['consumer.ts'],
      }),
    );
    const r = run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', '.'], app, 120_000);
    assert.equal(r.status, 0, r.out);
  });

  it('npm ci accepts the lock file once gatesvr-lock-natives recorded the unpublished natives', () => {
    const lock = run('npx', ['--no-install', 'gatesvr-lock-natives'], app, 60_000);
    assert.equal(lock.status, 0, lock.out);
    const ci = run('npm', ['ci', '--dry-run', '--prefer-offline'], app, 120_000);
    assert.equal(ci.status, 0, ci.out);
  });
});
