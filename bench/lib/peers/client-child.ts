/**
 * Peers benchmark child: holds many clients of one system (GateSvr SDK,
 * socket.io-client or mqtt.js) and checks what each receives (SeqCheck).
 *
 *   init { system, conn }                      -> {}
 *   connect { n, prefix, persistent, concurrency } -> { seconds } n clients, `concurrency` at a time
 *   expect { count, latency }                  -> {}            every client now expects seqs 1..count
 *   wait { timeoutMs }                         -> WaitResult    when all have them (or the timeout)
 *   drop { index }                             -> {}            lose the connection, keep the session
 *   resume { index, count, timeoutMs }         -> ResumeResult  reconnect; ms until `count` arrived
 *   closeAll {}                                -> {}            end every session for good
 */
import { serveChild } from '../child.js';
import { connectPeer, type PeerClient, type PeerConn, type SystemName } from './clients.js';
import { addTally, EMPTY_TALLY, nowMs, SeqCheck, type StreamTally } from './payload.js';

export interface WaitResult {
  complete: boolean;
  tally: StreamTally;
  /** Arrival of the last awaited message in this child (wall clock ms). */
  lastAt: number;
  latencies: number[];
}
export interface ResumeResult {
  complete: boolean;
  ms: number;
  tally: StreamTally;
  /** The system said the session (or connection state) was restored. */
  recovered: boolean;
}

let system: SystemName = 'gatesvr';
let conn: PeerConn;
const clients: PeerClient[] = [];
const checks: SeqCheck[] = [];
let completeCount = 0;
let onProgress: (() => void) | null = null;

function track(i: number, payload: Uint8Array): void {
  const c = checks[i];
  if (!c) return;
  const was = c.complete;
  if (c.add(payload) && !was) {
    completeCount++;
    onProgress?.();
  }
}

function until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  if (cond()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      onProgress = null;
      resolve(false);
    }, timeoutMs);
    onProgress = () => {
      if (!cond()) return;
      clearTimeout(t);
      onProgress = null;
      resolve(true);
    };
  });
}

serveChild(
  async (body) => {
    switch (body.type) {
      case 'init':
        system = body['system'] as SystemName;
        conn = body['conn'] as PeerConn;
        return {};
      case 'connect': {
        const n = body['n'] as number;
        const prefix = body['prefix'] as string;
        const persistent = body['persistent'] === true;
        const t0 = performance.now();
        let next = 0;
        // Slots are fixed before the connects finish, so each client's messages reach its own check.
        const base = clients.length;
        const worker = async () => {
          for (;;) {
            const k = next++;
            if (k >= n) return;
            const i = base + k;
            clients[i] = await connectPeer(system, conn, `${prefix}-${k}`, persistent, (p) => track(i, p));
          }
        };
        await Promise.all(Array.from({ length: Math.min(body['concurrency'] as number, n) }, worker));
        return { seconds: (performance.now() - t0) / 1000 };
      }
      case 'expect': {
        const count = body['count'] as number;
        const latency = body['latency'] === true;
        checks.length = 0;
        for (let i = 0; i < clients.length; i++) checks.push(new SeqCheck(count, latency));
        completeCount = 0;
        return {};
      }
      case 'wait': {
        const complete = await until(() => completeCount >= checks.length, body['timeoutMs'] as number);
        let tally = EMPTY_TALLY;
        let lastAt = 0;
        const latencies: number[] = [];
        for (const c of checks) {
          tally = addTally(tally, c.tally());
          lastAt = Math.max(lastAt, c.lastAt);
          latencies.push(...c.latencies);
        }
        return { complete, tally, lastAt, latencies } satisfies WaitResult;
      }
      case 'drop':
        await clients[body['index'] as number]!.drop();
        return {};
      case 'resume': {
        const i = body['index'] as number;
        const count = body['count'] as number;
        checks.length = 0;
        for (let k = 0; k < clients.length; k++) checks.push(new SeqCheck(k === i ? count : 0, false));
        completeCount = clients.length - 1;
        const t0 = nowMs();
        const recovered = await clients[i]!.reconnect();
        const complete = await until(() => checks[i]!.complete, body['timeoutMs'] as number);
        const check = checks[i]!;
        return {
          complete,
          ms: (complete ? check.lastAt : nowMs()) - t0,
          tally: check.tally(),
          recovered,
        } satisfies ResumeResult;
      }
      case 'closeAll': {
        await Promise.all(clients.map((c) => c.close()));
        clients.length = 0;
        checks.length = 0;
        return {};
      }
      case 'stats':
        return { clients: clients.length };
      default:
        throw new Error(`unknown request ${body.type}`);
    }
  },
  async () => {
    await Promise.all(clients.map((c) => c.close()));
  },
);
