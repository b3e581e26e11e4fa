/**
 * The operations HTTP server on server.http_addr (node:http, no framework):
 *
 *   GET /health       200 {"status":"healthy"} once every listener is up and this
 *                     gateway serves; 503 {"status":"standby"} while it stands by
 *                     (backup), {"status":"starting"} / {"status":"draining"} around it
 *   GET /live         200 while the process runs
 *   GET /stats        connections, sessions by phase and link, zones, upstream health, async processor
 *   GET /performance  QPS, request latency percentiles, throughput over the last 10 s
 *   GET /             the operator page (sessions, one actor live)
 *   /admin/...        admin API (see admin.ts): Bearer admin.token, or loopback-only
 *
 * Every response carries SECURITY_HEADERS (no framing, no sniffing, no referrer).
 * Every route but /health and /live answers only the Host names of the host
 * policy (421 otherwise: a DNS-rebinding page names its own host); a request of
 * any method but GET/HEAD from a page of another origin is refused (403);
 * /stats and /performance are local-only or need the admin token (authorizeOps).
 * docs/security-http.md explains each rule.
 *
 * Request logs carry method, path (no query), status and time; never headers.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../actors/ports.js';
import type { SessionSystem } from '../../actors/session-system.js';
import type { GatewayConfig } from '../../config/schema.js';
import { toHttp } from '../../errors.js';
import type { GatewayMetrics } from '../../metrics/gateway-metrics.js';
import type { AsyncProcessorStats } from '../grpc/async-processor.js';
import type { EndpointHealth } from '../grpc/upstream-pool.js';
import type { HostPort } from '../quic/types.js';
import { authorizeOps, handleAdmin } from './admin.js';
import type { SessionInspector } from './inspector.js';
import { listenHttp } from './listen.js';
import { OPERATOR_PAGE_CSP, OPERATOR_PAGE_HTML } from './operator-page.js';
import {
  crossSiteRefusal,
  hostAllowed,
  hostPolicy,
  SAFE_METHODS,
  SECURITY_HEADERS,
} from './request-guard.js';
import { HttpError, sendJson, setSecurityHeaders } from './respond.js';

/** What the HTTP server reads from the gateway. */
export interface HttpGatewayView {
  config: GatewayConfig;
  system: SessionSystem;
  connections(): number;
  upstreamHealth(): Record<string, EndpointHealth[]>;
  asyncStats(): AsyncProcessorStats;
  metrics: GatewayMetrics;
  /** null when inspector.enabled is false. */
  inspector: SessionInspector | null;
  startedAt: number;
  now(): number;
  /** False while the event log cannot store (NATS unreachable): /health answers 503 degraded. */
  storeAvailable?: () => boolean;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  gateway: HttpGatewayView;
  logger?: Logger;
}

export type HealthStatus = 'starting' | 'healthy' | 'standby' | 'degraded' | 'draining';

export interface HttpServer {
  readonly address: HostPort;
  /** false = standing by (backup, lost lease): /health answers 503 standby. */
  readonly serving: boolean;
  setServing(serving: boolean): void;
  /** Every listener is up (set by startGateway at the end of its start). */
  setReady(ready: boolean): void;
  /** The gateway is draining (SIGTERM): /health answers 503 draining. */
  setDraining(): void;
  readonly status: HealthStatus;
  close(): Promise<void>;
}

const PUBLIC_GET = new Set(['/', '/ui', '/health', '/live', '/stats', '/performance']);
/**
 * Probes of load balancers and orchestrators name the instance by IP or by any
 * virtual host; these two answer a status word only, so any Host is served.
 */
const ANY_HOST = new Set(['/health', '/live']);

/** Answer to a request node:http cannot parse (written to the socket as is). */
export const RAW_BAD_REQUEST = `HTTP/1.1 400 Bad Request\r\n${Object.entries(SECURITY_HEADERS)
  .map(([k, v]) => `${k}: ${v}\r\n`)
  .join('')}content-length: 0\r\nconnection: close\r\n\r\n`;

export async function startHttpServer(opts: HttpServerOptions): Promise<HttpServer> {
  const gw = opts.gateway;
  const log = opts.logger;
  let ready = false;
  let serving = true;
  let draining = false;
  const streams = new Set<() => void>();
  const hosts = hostPolicy(gw.config.server.httpAddr, gw.config.admin.allowedHosts);

  const status = (): HealthStatus => {
    if (draining) return 'draining';
    if (!ready) return 'starting';
    if (!serving) return 'standby';
    return gw.storeAvailable && !gw.storeAvailable() ? 'degraded' : 'healthy';
  };

  const route = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
    const method = req.method ?? 'GET';
    if (!ANY_HOST.has(path) && !hostAllowed(req.headers.host, hosts)) {
      throw new HttpError(
        'MISDIRECTED_REQUEST',
        'unknown Host: this server answers only the names of admin.allowed_hosts and loopback',
      );
    }
    if (!SAFE_METHODS.has(method)) {
      const refusal = crossSiteRefusal(req.headers, hosts);
      if (refusal !== null) throw new HttpError('CROSS_SITE_REQUEST', refusal);
    }
    if (path === '/admin' || path.startsWith('/admin/')) {
      await handleAdmin(req, res, url, path, {
        config: gw.config,
        system: gw.system,
        inspector: gw.inspector,
        logger: log,
        trackStream: (stop) => {
          streams.add(stop);
          return () => streams.delete(stop);
        },
      });
      return;
    }
    if (!PUBLIC_GET.has(path)) throw new HttpError('NOT_FOUND', `no route ${path}`);
    if (method !== 'GET' && method !== 'HEAD')
      throw new HttpError('METHOD_NOT_ALLOWED', `${method} ${path}`, 'GET, HEAD');
    switch (path) {
      case '/health': {
        const st = status();
        sendJson(req, res, st === 'healthy' ? 200 : 503, { status: st });
        return;
      }
      case '/live':
        sendJson(req, res, 200, { status: 'alive', uptimeSeconds: uptime() });
        return;
      case '/stats':
        authorizeOps(req, gw.config);
        sendJson(req, res, 200, stats());
        return;
      case '/performance':
        authorizeOps(req, gw.config);
        sendJson(req, res, 200, gw.metrics.performance());
        return;
      default: {
        const body = Buffer.from(OPERATOR_PAGE_HTML, 'utf8');
        res.writeHead(200, {
          'content-type': 'text/html; charset=utf-8',
          'content-length': body.length,
          'cache-control': 'no-store',
          'content-security-policy': OPERATOR_PAGE_CSP,
        });
        res.end(method === 'HEAD' ? undefined : body);
      }
    }
  };

  const uptime = () => Math.max(0, Math.round((gw.now() - gw.startedAt) / 1000));

  const stats = () => {
    const scan = gw.metrics.scan();
    return {
      status: status(),
      uptimeSeconds: uptime(),
      connections: gw.connections(),
      sessions: {
        total: scan.total,
        byPhase: { inited: scan.byPhase.inited, normal: scan.byPhase.normal },
        attached: scan.attached,
        detached: scan.detached,
      },
      zones: scan.zones,
      queues: { pendingPushes: scan.pending, heldNotifies: scan.held, inflightRequests: scan.inflight },
      upstream: gw.upstreamHealth(),
      async: gw.asyncStats(),
      inspector: { enabled: gw.inspector !== null, subscribers: gw.inspector?.subscribers ?? 0 },
    };
  };

  const server: Server = createServer((req, res) => {
    const t0 = performance.now();
    // Read now: node detaches req.socket (null) when it drops the rest of a refused body.
    const remote = req.socket.remoteAddress;
    setSecurityHeaders(res);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://gatesvr.local');
    } catch {
      url = new URL('http://gatesvr.local/');
    }
    res.on('finish', () => {
      log?.debug(
        {
          method: req.method,
          path: url.pathname,
          status: res.statusCode,
          ms: Math.round((performance.now() - t0) * 10) / 10,
          remote,
        },
        'http request',
      );
    });
    route(req, res, url).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const answer = toHttp(err);
      if (answer.status === 500) log?.warn({ path: url.pathname, err }, 'http handler failed');
      if (err instanceof HttpError && err.allow) res.setHeader('allow', err.allow);
      if (answer.status === 401) res.setHeader('www-authenticate', 'Bearer realm="gatesvr-admin"');
      sendJson(req, res, answer.status, { error: answer.error, message: answer.message });
    });
  });
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end(RAW_BAD_REQUEST);
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.keepAliveTimeout = 5_000;

  const listening = await listenHttp(server, opts.host, opts.port, () => {
    draining = true;
    for (const stop of streams) stop();
    streams.clear();
  });

  if (hosts.any) {
    log?.warn({}, 'admin.allowed_hosts has "*": any Host header is served (no DNS-rebinding defence)');
  }
  if (gw.config.admin.token === '' && !gw.config.admin.loopbackOnly) {
    log?.warn(
      {},
      'admin API has no token and is not loopback-only: anyone who reaches http_addr can kick sessions',
    );
  }

  return {
    address: listening.address,
    get serving() {
      return serving;
    },
    setServing(v: boolean) {
      serving = v;
    },
    setReady(v: boolean) {
      ready = v;
    },
    setDraining() {
      draining = true;
    },
    get status() {
      return status();
    },
    close: listening.close,
  };
}
