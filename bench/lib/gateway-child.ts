/**
 * Benchmark child: runs either the demo upstreams or a gateway (ports 0), and
 * answers the parent's questions (ports, CPU, RSS, delivery counters) over IPC.
 *
 *   init { role: 'upstreams' }                         -> { addresses }
 *   init { role: 'gateway', upstreams, patch, cert }   -> { quicPort, grpcPort }
 *   stats { gc? }                                      -> ProcStats + gateway counters
 */
import pino from 'pino';
import { type DemoUpstreams, startDemoUpstreams } from '../../src/demo/upstreams.js';
import type { Gateway } from '../../src/gateway.js';
import { startGateway } from '../../src/gateway.js';
import { type ConfigPatch, testConfig } from '../../test/helpers/gateway.js';
import { serveChild } from './child.js';

export interface UpstreamsReady {
  addresses: DemoUpstreams['addresses'];
}
export interface GatewayReady {
  quicPort: number;
  grpcPort: number;
}
export interface GatewayCounters {
  sessions: number;
  /** Sum over sessions of the highest acknowledged seq. */
  acked: number;
  /** Reliable pushes queued or unacknowledged, all sessions. */
  pending: number;
  /** Sum over sessions of the highest seq handed out. */
  pushed: number;
  connections: number;
  /** QUIC packets the gateway sent, received and declared lost (all connections). */
  packetsSent: number;
  packetsReceived: number;
  packetsLost: number;
  /** Holds the serving lease (always true without backup.enabled). */
  serving: boolean;
}

let gateway: Gateway | null = null;
let upstreams: DemoUpstreams | null = null;

function counters(): GatewayCounters | object {
  if (!gateway) return {};
  let acked = 0;
  let pending = 0;
  let pushed = 0;
  for (const a of gateway.system.sessions()) {
    const q = a.state.queue;
    acked += q.lastAcked;
    pending += q.size;
    pushed += q.lastSeq;
  }
  const k = gateway.quic.counters();
  return {
    sessions: gateway.system.size,
    acked,
    pending,
    pushed,
    connections: gateway.quic.connectionCount,
    packetsSent: k.packetsSent,
    packetsReceived: k.packetsReceived,
    packetsLost: k.packetsLost,
    serving: gateway.serving,
  } satisfies GatewayCounters;
}

serveChild(
  async (body) => {
    switch (body.type) {
      case 'init': {
        if (body['role'] === 'upstreams') {
          // `received` keeps a copy of every request: keep it small, it is not what we measure.
          upstreams = await startDemoUpstreams({ host: '127.0.0.1', receivedCapacity: 1 });
          return { addresses: upstreams.addresses } satisfies UpstreamsReady;
        }
        const cfg = testConfig((body['patch'] ?? {}) as ConfigPatch);
        const ups = body['upstreams'] as DemoUpstreams['addresses'];
        cfg.upstreamServices.hello = ups.hello;
        cfg.upstreamServices.business = ups.business;
        cfg.upstreamServices.zone = ups.zone;
        const cert = body['cert'] as { certFile: string; keyFile: string };
        cfg.server.certFile = cert.certFile;
        cfg.server.keyFile = cert.keyFile;
        cfg.log.level = 'silent';
        gateway = await startGateway(cfg, { logger: pino({ level: 'silent' }) });
        return {
          quicPort: gateway.addresses.quic.port,
          grpcPort: gateway.addresses.grpc.port,
        } satisfies GatewayReady;
      }
      case 'stats':
        return counters();
      default:
        throw new Error(`unknown request ${body.type}`);
    }
  },
  async () => {
    await gateway?.close();
    await upstreams?.close();
  },
);
