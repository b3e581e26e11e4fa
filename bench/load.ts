/**
 * Load script (not a timed test): `npm run load -- [options]`.
 *
 * 1. Bare engine: a child process runs only the QUIC engine (no gateway); N bare
 *    connections are opened to it and its RSS growth per connection is measured.
 * 2. Gateway: `gatesvr --config <tmp>` runs as a child process on free ports; N
 *    sessions connect (START) and idle, and its RSS growth per idle session is
 *    measured. Then for --duration seconds every session sends requests (login,
 *    then echo) at --rps in total while a producer pushes --push-rate notifies a
 *    second through gRPC PushToClient to random sessions. Each session counts the
 *    distinct push seqs it received against the pushes the gateway accepted for it:
 *    pushes lost must be 0.
 * 3. SIGTERM: the gateway drains; every client must see close 0x12, exit code 0.
 *
 * Progress goes to stderr once a second; the summary to stdout (markdown), and with
 * --write-doc into the "Load" section of docs/benchmarks.md.
 *
 * Options: --sessions 2000  --duration 20  --rps 2000  --push-rate 500
 *          --parallel 100 (connects in flight)  --skip-bare  --write-doc
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { GateClient } from '../src/client/gate-client.js';
import { PushClient } from '../src/client/push-client.js';
import { ensureTls } from '../src/config/tls.js';
import { GateError } from '../src/errors.js';
import { CloseCode } from '../src/protocol/codes.js';
import { type ClientConnection, connectQuic, createQuicServer } from '../src/transport/quic/index.js';

const ROOT = new URL('..', import.meta.url).pathname;

// ---------------------------------------------------------------- helpers
function log(msg: string): void {
  process.stderr.write(`[load] ${msg}\n`);
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const mib = (kb: number) => (kb / 1024).toFixed(1);

/** Runs `fn(i)` for i in [0, n) with at most `parallel` in flight; progress on stderr. */
async function pool<T>(
  n: number,
  parallel: number,
  what: string,
  fn: (i: number) => Promise<T>,
): Promise<(T | Error)[]> {
  const out: (T | Error)[] = new Array(n);
  let next = 0;
  let done = 0;
  const timer = setInterval(() => log(`${what}: ${done}/${n}`), 1000);
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (next < n) {
        const i = next++;
        try {
          out[i] = await fn(i);
        } catch (err) {
          out[i] = err instanceof Error ? err : new Error(String(err));
        }
        done++;
      }
    }),
  );
  clearInterval(timer);
  return out;
}

/** Spawns `node --import tsx <args>` and resolves with the first stdout line matching `pick`. */
function spawnChild<T>(args: string[], pick: (line: string) => T | null, timeoutMs = 60_000) {
  // The generated config alone decides: no GATESVR_* overrides from this environment.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GATESVR_')));
  const proc = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (d) => {
    stderr = (stderr + String(d)).slice(-4000);
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const ready = new Promise<T>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    let found = false;
    rl.on('line', (line) => {
      if (found) return;
      const v = pick(line);
      if (v !== null) {
        found = true;
        resolve(v);
      }
    });
    const t = setTimeout(() => reject(new Error(`child not ready: ${stderr}`)), timeoutMs);
    t.unref();
    void exited.then((code) => {
      if (!found) reject(new Error(`child exited (${code}): ${stderr}`));
    });
  });
  return { proc, ready, exited, stderr: () => stderr };
}

function stop(
  proc: ChildProcess,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<number | null | 'timeout'> {
  proc.kill('SIGTERM');
  return Promise.race([exited, sleep(timeoutMs).then(() => 'timeout' as const)]);
}

interface BareResult {
  connections: number;
  failed: number;
  baseKb: number;
  heldKb: number;
}

async function bareEngine(n: number, parallel: number): Promise<BareResult> {
  log(`bare engine: starting a QUIC-only child, then ${n} connections`);
  const child = spawnChild(['bench/load.ts', '--child-quic'], (line) => {
    try {
      return JSON.parse(line) as { port: number; certPem: string };
    } catch {
      return null;
    }
  });
  const { port, certPem } = await child.ready;
  await sleep(1000);
  const baseKb = rssKb(child.proc.pid!);
  const conns = await pool(n, parallel, 'bare connections', async () => {
    const c = await connectQuic({
      host: '127.0.0.1',
      port,
      caPem: certPem,
      serverName: 'localhost',
      idleTimeoutMs: 120_000,
      keepAliveMs: 0,
      connectTimeoutMs: 30_000,
    });
    c.write(Buffer.from([0])); // one byte on the session stream, like a START would
    return c;
  });
  await sleep(2000);
  const heldKb = rssKb(child.proc.pid!);
  const ok = conns.filter((c): c is ClientConnection => !(c instanceof Error));
  for (const c of ok) c.close(0, 'done');
  await sleep(500);
  await stop(child.proc, child.exited, 5000);
  child.proc.kill('SIGKILL');
  return { connections: ok.length, failed: n - ok.length, baseKb, heldKb };
}

interface Session {
  client: GateClient;
  openid: string;
  accepted: number;
  seqs: Set<number>;
  closeCode: number | null;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      sessions: { type: 'string', default: '2000' },
      duration: { type: 'string', default: '20' },
      rps: { type: 'string', default: '2000' },
      'push-rate': { type: 'string', default: '500' },
      parallel: { type: 'string', default: '100' },
      'skip-bare': { type: 'boolean', default: false },
      'write-doc': { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: npm run load -- [--sessions 2000] [--duration 20] [--rps 2000] [--push-rate 500]\n' +
        '                       [--parallel 100] [--skip-bare] [--write-doc]\n' +
        '  opens N sessions against a gateway child, mixes requests and gRPC pushes for --duration s,\n' +
        '  reports connections held, requests/s, errors, pushes lost and RSS per session vs bare QUIC.\n',
    );
    return;
  }
  const N = Number(values.sessions);
  const durationS = Number(values.duration);
  const rps = Number(values.rps);
  const pushRate = Number(values['push-rate']);
  const parallel = Number(values.parallel);
  const startedAt = new Date();

  const bare = values['skip-bare'] ? null : await bareEngine(N, parallel);
  if (bare) {
    log(`bare engine: ${bare.connections} held, RSS ${mib(bare.baseKb)} -> ${mib(bare.heldKb)} MiB`);
    await sleep(1000);
  }

  // ------------------------------------------------------------ gateway child
  const dir = mkdtempSync(join(tmpdir(), 'gatesvr-load-'));
  const cfgFile = join(dir, 'gatesvr.yaml');
  writeFileSync(
    cfgFile,
    [
      'server:',
      '  quic_addr: "127.0.0.1:0"',
      '  grpc_addr: "127.0.0.1:0"',
      '  http_addr: "127.0.0.1:0"',
      '  metrics_addr: "127.0.0.1:0"',
      '  drain_timeout: "20s"',
      '  heartbeat_interval: "30s"',
      'overload_protection:',
      `  max_connections: ${N * 2}`,
      `  connection_warning_threshold: ${N * 2}`,
      `  max_qps: ${Math.max(100_000, rps * 4)}`,
      `  qps_warning_threshold: ${Math.max(100_000, rps * 4)}`,
      '  max_session_qps: 1000',
      '  max_upstream_concurrent: 1000',
      '  upstream_warning_threshold: 1000',
      'log:',
      '  level: info',
      '',
    ].join('\n'),
  );
  log('starting gatesvr');
  const gw = spawnChild(['src/cli/main.ts', '--config', cfgFile], (line) => {
    try {
      const rec = JSON.parse(line) as Record<string, unknown>;
      if (rec['msg'] !== 'gateway listening') return null;
      return { quic: Number(String(rec['quic']).split(':').pop()), grpc: Number(rec['grpc']) };
    } catch {
      return null;
    }
  });
  const ports = await gw.ready;
  const gwPid = gw.proc.pid!;
  await sleep(1000);
  const gwBaseKb = rssKb(gwPid);
  log(
    `gatesvr up (quic ${ports.quic}, grpc ${ports.grpc}), RSS ${mib(gwBaseKb)} MiB; connecting ${N} sessions`,
  );

  const sessions: Session[] = [];
  const connectResults = await pool(N, parallel, 'sessions', async (i) => {
    const openid = `load-${i}`;
    const s: Session = {
      client: null as unknown as GateClient,
      openid,
      accepted: 0,
      seqs: new Set(),
      closeCode: null,
    };
    s.client = await GateClient.connect({
      host: '127.0.0.1',
      port: ports.quic,
      openid,
      insecure: true,
      heartbeat: false,
      connectTimeoutMs: 30_000,
    });
    s.client.onDelivered((d) => {
      if (d.kind === 'notify') s.seqs.add(d.seq);
    });
    s.client.onClose((info) => {
      s.closeCode = info.isApp ? info.code : -1;
    });
    sessions.push(s);
    return s;
  });
  const connectErrors = connectResults.filter((r) => r instanceof Error).length;
  if (connectErrors > 0) {
    const first = connectResults.find((r) => r instanceof Error) as Error;
    log(`connect errors: ${connectErrors} (first: ${first.message})`);
  }
  await sleep(2000);
  const gwIdleKb = rssKb(gwPid);
  const loadIdleKb = rssKb(process.pid);
  log(`${sessions.length} idle sessions: gatesvr RSS ${mib(gwBaseKb)} -> ${mib(gwIdleKb)} MiB`);

  // ------------------------------------------------------------ load phase
  let running = true;
  let requests = 0;
  let errors = 0;
  const errorKinds = new Map<string, number>();
  const countError = (err: unknown) => {
    errors++;
    const k =
      err instanceof GateError
        ? `GateError ${err.code}`
        : err instanceof Error
          ? err.message.slice(0, 60)
          : String(err);
    errorKinds.set(k, (errorKinds.get(k) ?? 0) + 1);
  };
  const perSessionIntervalMs = rps > 0 ? (sessions.length / rps) * 1000 : Number.POSITIVE_INFINITY;
  const loops = sessions.map(async (s) => {
    await sleep(Math.random() * Math.min(perSessionIntervalMs, 5000));
    try {
      const a = await s.client.request('hello', { zone: '1' });
      if (a.code !== 0) countError(new Error(`login code ${a.code}`));
      requests++;
    } catch (err) {
      countError(err);
    }
    while (running && s.closeCode === null) {
      const t0 = Date.now();
      try {
        await s.client.request('echo', {}, Buffer.from('x'.repeat(64)));
        requests++;
      } catch (err) {
        if (running) countError(err);
      }
      const wait = perSessionIntervalMs * (0.5 + Math.random()) - (Date.now() - t0);
      if (wait > 0) await sleep(wait);
    }
  });

  const pushers = Array.from({ length: 4 }, () => new PushClient(`127.0.0.1:${ports.grpc}`, 30_000));
  let pushesAccepted = 0;
  let pushesRefused = 0;
  let pushErrors = 0;
  let pushInflight = 0;
  const pushTimer =
    pushRate > 0 && sessions.length > 0
      ? setInterval(() => {
          const n = Math.round(pushRate / 20);
          for (let k = 0; k < n && pushInflight < 512; k++) {
            const s = sessions[Math.floor(Math.random() * sessions.length)]!;
            pushInflight++;
            pushers[k % pushers.length]!.push({
              targetType: 'openid',
              targetId: s.openid,
              msgType: 'load',
              content: 'p',
            }).then(
              (res) => {
                pushInflight--;
                if (res.success) {
                  s.accepted++;
                  pushesAccepted++;
                } else pushesRefused++;
              },
              () => {
                pushInflight--;
                pushErrors++;
              },
            );
          }
        }, 50)
      : null;

  const loadStart = Date.now();
  let lastReq = 0;
  let peakRps = 0;
  const received = () => sessions.reduce((a, s) => a + s.seqs.size, 0);
  const progress = setInterval(() => {
    const r = requests - lastReq;
    lastReq = requests;
    peakRps = Math.max(peakRps, r);
    const held = sessions.filter((s) => s.closeCode === null).length;
    log(
      `t=${Math.round((Date.now() - loadStart) / 1000)}s held=${held} req/s=${r} errors=${errors} ` +
        `pushes accepted=${pushesAccepted} received=${received()} gatesvr RSS=${mib(rssKb(gwPid))} MiB`,
    );
  }, 1000);
  await sleep(durationS * 1000);
  if (pushTimer) clearInterval(pushTimer);
  const loadSeconds = (Date.now() - loadStart) / 1000;
  const requestsInWindow = requests;
  running = false;
  const gwLoadKb = rssKb(gwPid);
  // Let the last pushes land.
  const settleUntil = Date.now() + 20_000;
  while ((pushInflight > 0 || sessions.some((s) => s.seqs.size < s.accepted)) && Date.now() < settleUntil)
    await sleep(100);
  await Promise.race([Promise.all(loops), sleep(10_000)]);
  clearInterval(progress);
  const held = sessions.filter((s) => s.closeCode === null).length;
  let lost = 0;
  let extra = 0;
  for (const s of sessions) {
    if (s.seqs.size < s.accepted) lost += s.accepted - s.seqs.size;
    if (s.seqs.size > s.accepted) extra += s.seqs.size - s.accepted;
  }
  for (const p of pushers) p.close();

  // ------------------------------------------------------------ drain
  log('SIGTERM to gatesvr');
  const exit = await stop(gw.proc, gw.exited, 60_000);
  await sleep(500);
  const closed0x12 = sessions.filter((s) => s.closeCode === CloseCode.SERVER_SHUTDOWN).length;
  if (exit === 'timeout') gw.proc.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });

  // ------------------------------------------------------------ report
  const perSessionKb = sessions.length > 0 ? (gwIdleKb - gwBaseKb) / sessions.length : 0;
  const perBareKb = bare && bare.connections > 0 ? (bare.heldKb - bare.baseKb) / bare.connections : 0;
  const rows: Array<[string, string]> = [
    ['sessions asked / held after connect', `${N} / ${sessions.length} (connect errors ${connectErrors})`],
    ['sessions still held at the end of the load', `${held}`],
    ['load duration', `${loadSeconds.toFixed(1)} s`],
    [
      'requests answered (incl. login) / average req/s / peak 1 s',
      `${requestsInWindow} / ${(requestsInWindow / loadSeconds).toFixed(0)} / ${peakRps}`,
    ],
    [
      'request errors',
      `${errors}${errors ? ` (${[...errorKinds].map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`,
    ],
    ['pushes accepted / refused / rpc errors', `${pushesAccepted} / ${pushesRefused} / ${pushErrors}`],
    ['pushes lost (accepted, never received)', `${lost}${extra ? ` (unexpected extra: ${extra})` : ''}`],
    [
      'gatesvr RSS: start / N idle sessions / end of load',
      `${mib(gwBaseKb)} / ${mib(gwIdleKb)} / ${mib(gwLoadKb)} MiB`,
    ],
    ['gatesvr RSS per idle session', `${perSessionKb.toFixed(1)} KiB`],
    [
      'bare engine RSS per connection (same run)',
      bare
        ? `${perBareKb.toFixed(1)} KiB (${bare.connections} held; ${mib(bare.baseKb)} -> ${mib(bare.heldKb)} MiB)`
        : 'skipped',
    ],
    ['load generator RSS with N sessions', `${mib(loadIdleKb)} MiB`],
    ['SIGTERM: exit code / clients closed with 0x12', `${exit} / ${closed0x12} of ${held}`],
  ];
  const table = [
    `Run ${startedAt.toISOString()}: \`npm run load -- --sessions ${N} --duration ${durationS} --rps ${rps} --push-rate ${pushRate}\`` +
      ` on ${cpus().length} CPU(s) (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}.` +
      ' Gateway and load generator share the machine.',
    '',
    '| measure | value |',
    '|---|---|',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
    '',
  ].join('\n');
  process.stdout.write(`\n${table}\n`);
  if (values['write-doc']) writeDoc(table);
  const okRun = lost === 0 && exit === 0;
  process.exit(okRun ? 0 : 1);
}

/** Writes `body` under "## Load" in docs/benchmarks.md, keeping every other section. */
function writeDoc(body: string): void {
  const file = join(ROOT, 'docs', 'benchmarks.md');
  const section = [
    '## Load',
    '',
    '`npm run load` (bench/load.ts): a separate process opens the sessions against a `gatesvr` child on free',
    'ports, sends requests (login, then `echo`) at a fixed total rate and pushes notifies through gRPC',
    '`PushToClient`; every session counts the distinct push seqs it received against the pushes the gateway',
    'accepted for it. RSS is the child\'s VmRSS; "per idle session" is its growth with N started, idle sessions,',
    'compared in the same run with a child running only the QUIC engine holding N bare connections.',
    '',
    body,
  ].join('\n');
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const start = text.search(/^## Load\s*$/m);
  if (start >= 0) {
    const rest = text.slice(start + 1);
    const next = rest.search(/^## /m);
    text = text.slice(0, start) + section + (next >= 0 ? `\n${rest.slice(next)}` : '');
  } else {
    text = `${text.trimEnd()}\n\n${section}`;
  }
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
  log(`wrote the Load section of ${file}`);
}

// ---------------------------------------------------------------- child mode: bare engine
async function childQuic(): Promise<void> {
  const tls = await ensureTls({ server: { certFile: '', keyFile: '', quicAddr: '127.0.0.1:0' } });
  const server = createQuicServer({
    host: '127.0.0.1',
    port: 0,
    tls: { certPem: tls.certPem, keyPem: tls.keyPem },
    idleTimeoutMs: 120_000,
  });
  server.onConnection = (c) => {
    c.onData = () => {};
  };
  const bound = await server.listen();
  process.stdout.write(`${JSON.stringify({ port: bound.port, certPem: tls.certPem })}\n`);
  process.on('SIGTERM', () => {
    void server.close(0, 'bye').then(() => process.exit(0));
  });
}

if (process.argv.includes('--child-quic')) await childQuic();
else await main();
