/**
 * Scenario `rpc`: BUSINESS requests through the gateway to the demo zone `echo`
 * upstream, against the same upstream called directly with grpc-js in the same
 * run (same total number of calls in flight). The upstreams and the gateway run
 * in child processes; this process is only the load generator.
 *
 * Rows: 1 session window 32, 100 sessions window 4, 1000 sessions window 1; the
 * direct rows keep 32, 400 and 1000 calls in flight on one grpc-js channel.
 * Writes docs/bench/rpc-sessions.svg (throughput and p99 against sessions).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { GateClient } from '../src/client/gate-client.js';
import type { UpstreamRequest } from '../src/protocol/messages.js';
import { UpstreamServiceClient } from '../src/transport/grpc/service-defs.js';
import { closedLoop, type LoadResult } from './lib/load.js';
import { sessionsPlot } from './lib/plot.js';
import { type Cell, emitResult, progress, type RunOptions, table } from './lib/report.js';
import { benchPatch, closeSessions, connectSessions, round2, startStack } from './lib/stack.js';

interface RowSpec {
  sessions: number;
  window: number;
}

const ROWS: RowSpec[] = [
  { sessions: 1, window: 32 },
  { sessions: 100, window: 4 },
  { sessions: 1000, window: 1 },
];

const PAYLOAD = Buffer.alloc(64, 0x61);

export interface RpcRow {
  sessions: number;
  window: number;
  inflight: number;
  gateway: LoadResult;
  direct: LoadResult;
}

export async function run(opts: RunOptions = {}): Promise<void> {
  const seconds = opts.seconds ?? 3;
  const stack = await startStack(opts, 'rpc', benchPatch());
  const clients: GateClient[] = [];
  const direct = new UpstreamServiceClient(stack.zoneAddr, grpc.credentials.createInsecure());
  const results: RpcRow[] = [];
  try {
    for (const row of ROWS) {
      const inflight = row.sessions * row.window;
      progress(`direct gRPC, ${inflight} in flight`);
      let n = 0;
      const directRes = await closedLoop(
        inflight,
        () =>
          new Promise<void>((resolve, reject) => {
            const req: Partial<UpstreamRequest> = {
              sessionId: 'direct',
              openid: 'direct',
              action: 'echo',
              params: {},
              data: PAYLOAD,
              headers: { zone: '1' },
              clientSeqId: ++n,
            };
            direct.ProcessRequest(req, (err, res) =>
              err ? reject(err) : res?.code === 0 ? resolve() : reject(new Error(res?.message)),
            );
          }),
        seconds,
        { upstreams: stack.upstreams },
      );
      progress(`  ${directRes.rate.toFixed(0)} req/s, p99 ${directRes.p99.toFixed(2)} ms`);

      if (clients.length < row.sessions) {
        progress(`connecting ${row.sessions - clients.length} sessions (login via hello)`);
        const more = await connectSessions(stack, row.sessions - clients.length, `rpc${clients.length}`);
        clients.push(...more);
      }
      progress(`gateway, ${row.sessions} sessions x window ${row.window}`);
      const gwRes = await closedLoop(
        inflight,
        async (slot) => {
          const c = clients[Math.floor(slot / row.window)]!;
          const a = await c.request('echo', {}, PAYLOAD);
          if (a.code !== 0) throw new Error(`echo failed: ${a.code}`);
        },
        seconds,
        { gateway: stack.gateway, upstreams: stack.upstreams },
      );
      progress(
        `  ${gwRes.rate.toFixed(0)} req/s, p99 ${gwRes.p99.toFixed(2)} ms, ratio ${(gwRes.rate / directRes.rate).toFixed(2)}`,
      );
      results.push({
        sessions: row.sessions,
        window: row.window,
        inflight,
        gateway: gwRes,
        direct: directRes,
      });
    }
  } finally {
    direct.close();
    await closeSessions(clients);
    await stack.stop();
  }

  const rows: Cell[][] = [];
  for (const r of results) {
    rows.push([
      `${r.sessions} sess x w${r.window}`,
      'gateway',
      r.gateway.rate,
      r.gateway.p50,
      r.gateway.p99,
      r.gateway.cpuPerCall['gateway'],
      r.gateway.cpuPerCall['upstreams'],
      r.gateway.cpuPerCall['client'],
      r.gateway.errors,
      (r.gateway.rate / r.direct.rate).toFixed(2),
    ]);
    rows.push([
      `${r.inflight} in flight`,
      'direct',
      r.direct.rate,
      r.direct.p50,
      r.direct.p99,
      null,
      r.direct.cpuPerCall['upstreams'],
      r.direct.cpuPerCall['client'],
      r.direct.errors,
      '',
    ]);
  }
  table(
    [
      'row',
      'path',
      'req/s',
      'p50 ms',
      'p99 ms',
      'gw µs/req',
      'ups µs/req',
      'load µs/req',
      'errors',
      'gw/direct',
    ],
    rows,
  );

  const svgPath = new URL('../docs/bench/rpc-sessions.svg', import.meta.url);
  mkdirSync(new URL('.', svgPath), { recursive: true });
  writeFileSync(
    svgPath,
    sessionsPlot({
      title: `rpc: gateway vs direct gRPC (echo), ${new Date().toISOString().slice(0, 10)}`,
      points: results.map((r) => ({
        sessions: r.sessions,
        gatewayRate: r.gateway.rate,
        directRate: r.direct.rate,
        gatewayP99: r.gateway.p99,
        directP99: r.direct.p99,
      })),
    }),
  );
  progress(`wrote docs/bench/rpc-sessions.svg`);

  const geo = (xs: number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
  emitResult({
    scenario: 'rpc',
    value: round2(geo(results.map((r) => r.gateway.rate))),
    baseline: round2(geo(results.map((r) => r.direct.rate))),
    unit: 'req/s (geomean of rows; baseline direct grpc-js, same calls in flight)',
    goal: 0.5,
    minRatio: round2(Math.min(...results.map((r) => r.gateway.rate / r.direct.rate))),
    rows: results.map((r) => ({
      sessions: r.sessions,
      window: r.window,
      gateway: round2(r.gateway.rate),
      direct: round2(r.direct.rate),
      ratio: round2(r.gateway.rate / r.direct.rate),
      gatewayP50Ms: round2(r.gateway.p50),
      gatewayP99Ms: round2(r.gateway.p99),
      directP50Ms: round2(r.direct.p50),
      directP99Ms: round2(r.direct.p99),
      gatewayCpuUsPerReq: round2(r.gateway.cpuPerCall['gateway'] ?? 0),
      upstreamCpuUsPerReq: round2(r.gateway.cpuPerCall['upstreams'] ?? 0),
      errors: r.gateway.errors,
    })),
  });
}
