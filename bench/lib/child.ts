/**
 * Request/reply over IPC between a benchmark and the processes it forks (the
 * gateway, the demo upstreams, a bare engine server), so the load generator
 * never shares an event loop with what it measures.
 *
 * Parent: `BenchChild.start(script, init)` forks `tsx script`, sends `init`, and
 * resolves with the child's first reply. Child: `serveChild(handler)` answers
 * every request `{ id, body }` with `{ id, ok, body }`.
 */
import { type ChildProcess, fork } from 'node:child_process';

interface Request {
  id: number;
  body: Record<string, unknown>;
}
interface Reply {
  id: number;
  ok: boolean;
  body: unknown;
}

/** What every bench child reports about itself. */
export interface ProcStats {
  /** user + system CPU since start, µs. */
  cpuUs: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

export function procStats(): ProcStats {
  const u = process.cpuUsage();
  const m = process.memoryUsage();
  return {
    cpuUs: u.user + u.system,
    rss: m.rss,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
  };
}

export interface ChildStartOptions {
  /** Extra node flags (e.g. --cpu-prof ...). */
  execArgv?: string[];
}

export class BenchChild {
  private nextId = 1;
  private readonly waiters = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly name: string,
  ) {
    child.on('message', (m: Reply) => {
      const w = this.waiters.get(m.id);
      if (!w) return;
      this.waiters.delete(m.id);
      if (m.ok) w.resolve(m.body);
      else w.reject(new Error(`${name}: ${String(m.body)}`));
    });
    child.on('exit', (code, signal) => {
      this.exited = true;
      for (const w of this.waiters.values()) w.reject(new Error(`${name} exited (${code ?? signal})`));
      this.waiters.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  static async start<T>(
    script: URL,
    name: string,
    init: Record<string, unknown>,
    opts: ChildStartOptions = {},
  ): Promise<{ child: BenchChild; ready: T }> {
    const child = fork(script, [], {
      execArgv: ['--import', 'tsx', '--expose-gc', ...(opts.execArgv ?? [])],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const bc = new BenchChild(child, name);
    const ready = (await bc.request({ type: 'init', ...init })) as T;
    return { child: bc, ready };
  }

  request<T = unknown>(body: Record<string, unknown>): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.name} is gone`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiters.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, body } satisfies Request);
    });
  }

  stats<T extends ProcStats = ProcStats>(gc = false): Promise<T> {
    return this.request<T>({ type: 'stats', gc });
  }

  /** Ask the child to close and exit (a --cpu-prof profile is written then); kill it if it hangs. */
  async stop(timeoutMs = 8000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.request({ type: 'stop' }).catch(() => {});
    await Promise.race([gone, new Promise((r) => setTimeout(r, timeoutMs))]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

/** Child side: answer requests with `handler`; `stop` runs `onStop` then exits 0. */
export function serveChild(
  handler: (body: Record<string, unknown> & { type: string }) => unknown | Promise<unknown>,
  onStop: () => Promise<void>,
): void {
  const send = (r: Reply) => process.send?.(r);
  process.on('message', async (m: Request) => {
    const body = m.body as Record<string, unknown> & { type: string };
    if (body.type === 'stop') {
      await Promise.race([onStop().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
      send({ id: m.id, ok: true, body: null });
      process.exit(0);
    }
    try {
      if (body.type === 'stats') {
        if (body['gc'] === true) gcHard();
        send({ id: m.id, ok: true, body: { ...procStats(), ...((await handler(body)) as object) } });
        return;
      }
      send({ id: m.id, ok: true, body: await handler(body) });
    } catch (e) {
      send({ id: m.id, ok: false, body: (e as Error).stack ?? String(e) });
    }
  });
  process.on('disconnect', () => process.exit(0));
}

function gcHard(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return;
  for (let i = 0; i < 3; i++) gc();
}
