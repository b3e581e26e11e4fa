/**
 * Mosquitto for the peers benchmark: found on PATH, or installed with apt-get
 * when we run as root and apt is there; otherwise the MQTT column is skipped.
 * The broker runs on a free loopback port with a config of our own.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { progress } from '../report.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Mosquitto's path, or why there is none. */
export function ensureMosquitto(): { ok: true } | { ok: false; note: string } {
  if (has('mosquitto')) return { ok: true };
  if (process.getuid?.() !== 0 || !has('apt-get'))
    return { ok: false, note: 'mosquitto not installed (and not root with apt-get): MQTT column skipped' };
  progress('mosquitto missing: apt-get install -y mosquitto');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', 'mosquitto'], { stdio: 'ignore', env }).status;
  if (install() !== 0) {
    spawnSync('apt-get', ['update'], { stdio: 'ignore', env });
    install();
  }
  // The package may put mosquitto in /usr/sbin, which a non-login PATH can miss.
  if (has('mosquitto') || has('/usr/sbin/mosquitto')) return { ok: true };
  return { ok: false, note: 'apt-get install mosquitto failed: MQTT column skipped' };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Mosquitto {
  port: number;
  pid: number;
  /** Resident set size, bytes (VmRSS). */
  rss(): number;
  stop(): Promise<void>;
}

export async function startMosquitto(): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'peers-mosquitto-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      // The default 1000 would drop part of the resume workload's queue (1,000 + a margin).
      'max_queued_messages 100000',
      'max_inflight_messages 20',
      'log_type error',
      '',
    ].join('\n'),
  );
  const bin = has('mosquitto') ? 'mosquitto' : '/usr/sbin/mosquitto';
  const proc: ChildProcess = spawn(bin, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  let exited = false;
  proc.once('exit', () => {
    exited = true;
  });
  for (let i = 0; i < 100 && !(await canConnect(port)); i++) {
    if (exited) throw new Error('mosquitto exited at start');
    await new Promise((r) => setTimeout(r, 50));
  }
  const pid = proc.pid!;
  return {
    port,
    pid,
    rss() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : Number.NaN;
    },
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        if (!exited) proc.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
