/**
 * Benchmark child for `failover`: holds a share of the SDK sessions (autoResume,
 * primary + backup addresses) and records when each one reconnects.
 *
 *   init { addresses, certPem, prefix, count, client }  -> {}
 *   connect { concurrency }                             -> { connected, failed }
 *   stats                                               -> ProcStats + FailoverClientStats
 *   result { since }                                    -> FailoverClientResult
 *   close                                               -> {}
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { GateClient, type GateClientOptions } from '../../src/client/gate-client.js';
import { serveChild } from './child.js';

export interface FailoverClientInit {
  addresses: Array<{ host: string; port: number }>;
  certPem: string;
  prefix: string;
  count: number;
  client: Pick<GateClientOptions, 'reconnectMinMs' | 'reconnectMaxMs' | 'connectTimeoutMs' | 'idleTimeoutMs'>;
}

export interface FailoverClientStats {
  /** Sessions started (initial connect + login). */
  connected: number;
  /** Sessions whose latest reconnect is at or after `since` of the last `result`/`stats` ask. */
  reconnected: number;
  /** Reconnects ever made, and how many of them started a new session (state lost). */
  reconnects: number;
  newSessions: number;
  /** NOTIFYs delivered, all sessions. */
  notifies: number;
  /** Failed reconnect attempts by reason. */
  failures: Record<string, number>;
  /** Longest event-loop stall since the previous stats, ms. */
  loopDelayMaxMs: number;
}

export interface FailoverClientResult {
  /** Per session reconnected at or after `since`: ms from `since` to its first such resume. */
  resumeMs: number[];
  /** Failed attempts before that resume, per session (same order). */
  attempts: number[];
  /** Sessions not reconnected since `since`. */
  missing: number;
  /** Of those reconnects, how many got a new session instead of a resume. */
  newSessions: number;
}

interface Held {
  client: GateClient;
  /** Times (Date.now()) of every reconnect, with its attempts and whether it resumed. */
  events: Array<{ at: number; attempts: number; resumed: boolean }>;
}

/** Why reconnect attempts failed (error message, digits folded), counted. */
const failures = new Map<string, number>();
const resumeOriginal = GateClient.prototype.resume;
GateClient.prototype.resume = async function (this: GateClient): Promise<void> {
  try {
    await resumeOriginal.call(this);
  } catch (e) {
    const why = String((e as Error).message).replace(/\d+/g, 'N');
    failures.set(why, (failures.get(why) ?? 0) + 1);
    throw e;
  }
};
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();

let init: FailoverClientInit | null = null;
const held: Held[] = [];
let notifies = 0;
let failed = 0;

async function connectOne(i: number): Promise<void> {
  const o = init!;
  const [first, ...rest] = o.addresses;
  for (let attempt = 0; ; attempt++) {
    try {
      const client = await GateClient.connect({
        host: first!.host,
        port: first!.port,
        addresses: rest,
        openid: `${o.prefix}-${i}`,
        caPem: o.certPem,
        serverName: 'localhost',
        heartbeat: false,
        autoResume: true,
        ...o.client,
      });
      const a = await client.request('hello', { zone: '1' });
      if (a.code !== 0) throw new Error(`login failed: ${a.code} ${a.message}`);
      const h: Held = { client, events: [] };
      client.onReconnect((info) => h.events.push({ at: Date.now(), ...info }));
      client.onDelivered((d) => {
        if (d.kind === 'notify') {
          notifies++;
          void client.nextNotify(); // keep the SDK's notify buffer empty
        }
      });
      held.push(h);
      return;
    } catch (e) {
      if (attempt >= 4) {
        failed++;
        process.stderr.write(`[failover-client] ${o.prefix}-${i}: ${(e as Error).message}\n`);
        return;
      }
    }
  }
}

let since = Number.POSITIVE_INFINITY;

function firstSince(h: Held, t: number): Held['events'][number] | undefined {
  return h.events.find((e) => e.at >= t);
}

serveChild(
  async (body) => {
    switch (body.type) {
      case 'init':
        init = body as unknown as FailoverClientInit;
        return {};
      case 'connect': {
        const n = init!.count;
        const concurrency = Number(body['concurrency'] ?? 25);
        let next = 0;
        const worker = async () => {
          for (let i = next++; i < n; i = next++) await connectOne(i);
        };
        await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
        return { connected: held.length, failed };
      }
      case 'stats': {
        if (typeof body['since'] === 'number') since = body['since'];
        let reconnected = 0;
        let reconnects = 0;
        let newSessions = 0;
        for (const h of held) {
          reconnects += h.events.length;
          for (const e of h.events) if (!e.resumed) newSessions++;
          if (firstSince(h, since)) reconnected++;
        }
        const out = {
          connected: held.length,
          reconnected,
          reconnects,
          newSessions,
          notifies,
          failures: Object.fromEntries(failures),
          loopDelayMaxMs: Math.round(loopDelay.max / 1e6),
        } satisfies FailoverClientStats;
        loopDelay.reset();
        return out;
      }
      case 'result': {
        const t = Number(body['since']);
        const out: FailoverClientResult = { resumeMs: [], attempts: [], missing: 0, newSessions: 0 };
        for (const h of held) {
          const e = firstSince(h, t);
          if (!e) {
            out.missing++;
            continue;
          }
          out.resumeMs.push(e.at - t);
          out.attempts.push(e.attempts);
          if (!e.resumed) out.newSessions++;
        }
        return out;
      }
      case 'close':
        for (const h of held) h.client.close();
        return {};
      default:
        throw new Error(`unknown request ${body.type}`);
    }
  },
  async () => {
    for (const h of held) h.client.close();
  },
);
