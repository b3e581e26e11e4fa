/**
 * Upstream gRPC pool (docs/protocol.md section 5, seed 5.2): one grpc-js client per address,
 * round-robin over the healthy addresses of a service. An address is marked unhealthy
 * when a call fails with UNAVAILABLE (or its channel is in TRANSIENT_FAILURE) and is
 * skipped; a background probe (GetStatus) restores it. With every address unhealthy one
 * is tried anyway. Failures become GateErrors 502 / 503 / 504.
 */

import * as grpc from '@grpc/grpc-js';
import { type Logger, silentLogger } from '../../actors/ports.js';
import { GateError } from '../../errors.js';
import { ErrorCode } from '../../protocol/codes.js';
import type {
  StatusRequest,
  StatusResponse,
  UpstreamRequest,
  UpstreamResponse,
} from '../../protocol/messages.js';
import type { ChannelSecurity } from './credentials.js';
import { UpstreamServiceClient, UpstreamServiceDefinition } from './service-defs.js';

export interface UpstreamPoolOptions {
  logger?: Logger;
  /** Background health probe period (default 5000 ms). */
  healthCheckIntervalMs?: number;
  /** Deadline of one probe (default 2000 ms). */
  probeTimeoutMs?: number;
  /** Extra grpc-js channel options, merged over the defaults. */
  channelOptions?: Partial<grpc.ChannelOptions>;
  /** TLS of a service's channels (null or absent = plaintext, e.g. the in-process demo). */
  channelSecurity?: (service: string) => ChannelSecurity | null;
}

export interface EndpointHealth {
  address: string;
  healthy: boolean;
  inflight: number;
}

export interface UpstreamPool {
  /** Calls ProcessRequest on the service; rejects with a GateError (502/503/504). */
  call(service: string, req: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse>;
  health(): Record<string, EndpointHealth[]>;
  close(): void;
}

/** Defaults: no channelz bookkeeping per call, quick reconnects, polite keep-alive. */
const DEFAULT_CHANNEL_OPTIONS: Partial<grpc.ChannelOptions> = {
  'grpc.enable_channelz': 0,
  'grpc.use_local_subchannel_pool': 1,
  'grpc.initial_reconnect_backoff_ms': 200,
  'grpc.max_reconnect_backoff_ms': 5000,
  // Servers commonly refuse pings more often than every few minutes without calls;
  // dead upstreams are found by the health probe, keep-alive only guards idle NATs.
  'grpc.keepalive_time_ms': 120_000,
  'grpc.keepalive_timeout_ms': 20_000,
  'grpc.keepalive_permit_without_calls': 0,
};

interface Endpoint {
  readonly service: string;
  readonly address: string;
  readonly client: UpstreamServiceClient;
  healthy: boolean;
  inflight: number;
  probing: boolean;
}

interface ServiceGroup {
  readonly endpoints: Endpoint[];
  next: number;
}

const PROCESS = UpstreamServiceDefinition.ProcessRequest;
const STATUS = UpstreamServiceDefinition.GetStatus;
const { TRANSIENT_FAILURE } = grpc.connectivityState;

export function createUpstreamPool(
  services: Record<string, string[]>,
  opts: UpstreamPoolOptions = {},
): UpstreamPool {
  const log = opts.logger ?? silentLogger;
  const intervalMs = opts.healthCheckIntervalMs ?? 5000;
  const probeTimeoutMs = opts.probeTimeoutMs ?? 2000;
  const channelOptions = { ...DEFAULT_CHANNEL_OPTIONS, ...opts.channelOptions };
  const insecure = grpc.credentials.createInsecure();
  const groups = new Map<string, ServiceGroup>();
  const all: Endpoint[] = [];
  let closed = false;

  for (const [service, addresses] of Object.entries(services)) {
    const endpoints: Endpoint[] = [];
    const security = opts.channelSecurity?.(service) ?? null;
    const credentials = security?.credentials ?? insecure;
    const options = security ? { ...channelOptions, ...security.channelOptions } : channelOptions;
    for (const address of new Set(addresses)) {
      const ep: Endpoint = {
        service,
        address,
        client: new UpstreamServiceClient(address, credentials, options),
        healthy: true,
        inflight: 0,
        probing: false,
      };
      endpoints.push(ep);
      all.push(ep);
    }
    groups.set(service, { endpoints, next: 0 });
  }

  function markUnhealthy(ep: Endpoint, reason: string): void {
    if (!ep.healthy) return;
    ep.healthy = false;
    log.warn({ service: ep.service, address: ep.address, reason }, 'upstream address unhealthy');
  }

  function markHealthy(ep: Endpoint): void {
    if (ep.healthy) return;
    ep.healthy = true;
    log.info({ service: ep.service, address: ep.address }, 'upstream address restored');
  }

  /** Round-robin over healthy endpoints; with none healthy, the next one anyway. */
  function pick(group: ServiceGroup): Endpoint {
    const eps = group.endpoints;
    const n = eps.length;
    for (let i = 0; i < n; i++) {
      const idx = (group.next + i) % n;
      const ep = eps[idx]!;
      if (!ep.healthy) continue;
      if (ep.client.getChannel().getConnectivityState(false) === TRANSIENT_FAILURE) {
        markUnhealthy(ep, 'channel in TRANSIENT_FAILURE');
        continue;
      }
      group.next = (idx + 1) % n;
      return ep;
    }
    const ep = eps[group.next % n]!;
    group.next = (group.next + 1) % n;
    return ep;
  }

  function toGateError(err: grpc.ServiceError, ep: Endpoint): GateError {
    const where = `${ep.service}@${ep.address}`;
    switch (err.code) {
      case grpc.status.DEADLINE_EXCEEDED:
        return new GateError(ErrorCode.UPSTREAM_TIMEOUT, 'upstream timeout', where);
      case grpc.status.UNAVAILABLE:
        markUnhealthy(ep, err.details);
        return new GateError(
          ErrorCode.UPSTREAM_UNAVAILABLE,
          'upstream unavailable',
          `${where}: ${err.details}`,
        );
      default:
        if (closed && err.code === grpc.status.CANCELLED) {
          return new GateError(ErrorCode.UPSTREAM_UNAVAILABLE, 'upstream pool closed', where);
        }
        return new GateError(
          ErrorCode.UPSTREAM_ERROR,
          'upstream error',
          `${grpc.status[err.code] ?? err.code}: ${err.details} (${where})`,
        );
    }
  }

  function call(service: string, req: UpstreamRequest, timeoutMs: number): Promise<UpstreamResponse> {
    if (closed) {
      return Promise.reject(new GateError(ErrorCode.UPSTREAM_UNAVAILABLE, 'upstream pool closed', service));
    }
    const group = groups.get(service);
    if (group === undefined || group.endpoints.length === 0) {
      return Promise.reject(
        new GateError(ErrorCode.UPSTREAM_UNAVAILABLE, 'no upstream address configured', service),
      );
    }
    if (!(timeoutMs > 0)) {
      return Promise.reject(new GateError(ErrorCode.UPSTREAM_TIMEOUT, 'upstream timeout', service));
    }
    const ep = pick(group);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      ep.inflight++;
      try {
        ep.client.makeUnaryRequest(
          PROCESS.path,
          PROCESS.requestSerialize,
          PROCESS.responseDeserialize,
          req,
          { deadline: Date.now() + timeoutMs },
          (err, res) => {
            ep.inflight--;
            if (err) reject(toGateError(err, ep));
            else {
              if (!ep.healthy) markHealthy(ep);
              resolve(res!);
            }
          },
        );
      } catch (err) {
        // Only a closed channel throws synchronously.
        ep.inflight--;
        reject(new GateError(ErrorCode.UPSTREAM_UNAVAILABLE, 'upstream unavailable', `${err}`));
      }
    });
  }

  function probe(ep: Endpoint): void {
    if (ep.probing || closed) return;
    ep.probing = true;
    try {
      ep.client.makeUnaryRequest<StatusRequest, StatusResponse>(
        STATUS.path,
        STATUS.requestSerialize,
        STATUS.responseDeserialize,
        { serviceName: ep.service },
        { deadline: Date.now() + probeTimeoutMs },
        (err) => {
          ep.probing = false;
          if (closed) return;
          // Answering at all (even UNIMPLEMENTED) proves the address is reachable; a
          // slow probe (DEADLINE_EXCEEDED) changes nothing on a busy machine.
          if (!err) markHealthy(ep);
          else if (err.code === grpc.status.UNAVAILABLE) markUnhealthy(ep, err.details);
          else if (err.code !== grpc.status.DEADLINE_EXCEEDED) markHealthy(ep);
        },
      );
    } catch (err) {
      ep.probing = false;
      log.debug({ address: ep.address, err: `${err}` }, 'upstream probe not sent');
    }
  }

  function probeAll(): void {
    for (const ep of all) probe(ep);
  }

  const timer = all.length > 0 ? setInterval(probeAll, intervalMs) : undefined;
  timer?.unref();
  // First probe at once: finds dead addresses before traffic does.
  if (all.length > 0) setImmediate(probeAll).unref();

  return {
    call,
    health() {
      const out: Record<string, EndpointHealth[]> = {};
      for (const [service, group] of groups) {
        out[service] = group.endpoints.map((ep) => ({
          address: ep.address,
          healthy: ep.healthy,
          inflight: ep.inflight,
        }));
      }
      return out;
    },
    close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      for (const ep of all) ep.client.close();
    },
  };
}
