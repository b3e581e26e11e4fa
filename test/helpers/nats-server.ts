/**
 * Starts a private `nats-server -js` for a test: a free port, a temporary store
 * directory, killed (and the directory removed) by `stop()`. Never touches a
 * system nats-server on 4222.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number;
  /** Kill -9 the server (the store stays). */
  kill(): Promise<void>;
  /** Start again on the same port with the same store (after kill). */
  restart(): Promise<void>;
  /** Kill and remove the store. */
  stop(): Promise<void>;
}

export function findNatsServer(): string {
  const candidates = [
    ...(process.env.PATH ?? '')
      .split(delimiter)
      .filter(Boolean)
      .map((d) => join(d, 'nats-server')),
    '/usr/sbin/nats-server',
    '/usr/local/bin/nats-server',
    '/usr/bin/nats-server',
  ];
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(
    'nats-server not found in PATH or /usr/sbin: run `bash scripts/setup.sh` (installs it with apt-get)',
  );
}

/**
 * Wait for the server's own "listening" log line: it names the port actually
 * bound, so a first start can ask for a random one (`-p -1`) and no other
 * process can take the port between choosing and binding it.
 */
async function waitListening(child: ChildProcess, out: () => string): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < 15_000) {
    if (child.exitCode !== null) throw new Error(`nats-server exited (${child.exitCode}): ${out()}`);
    const m = /Listening for client connections on [^\s]*:(\d+)/.exec(out());
    if (m && /Server is ready/.test(out())) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`nats-server did not start listening: ${out()}`);
}

export interface NatsServerOptions {
  /** Extra nats-server configuration (e.g. `tls { ... }`, `authorization { ... }`), written to a file. */
  config?: string;
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = findNatsServer();
  let port = -1; // random on the first start, the same one on restarts
  const storeDir = mkdtempSync(join(tmpdir(), 'gatesvr-nats-'));
  const configArgs: string[] = [];
  if (opts.config !== undefined) {
    const file = join(storeDir, 'nats.conf');
    writeFileSync(file, opts.config);
    configArgs.push('-c', file);
  }
  let child: ChildProcess;
  let output = '';
  const launch = async () => {
    output = '';
    child = spawn(bin, [...configArgs, '-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-8000);
    });
    child.stderr?.on('data', (d: Buffer) => {
      output = (output + d.toString()).slice(-8000);
    });
    port = await waitListening(child, () => output);
  };
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await gone;
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return child.pid ?? 0;
    },
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
