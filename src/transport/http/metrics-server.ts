/**
 * Prometheus exposition on server.metrics_addr: GET /metrics (text format 0.0.4).
 *
 * Every answer carries SECURITY_HEADERS. No Host check: Prometheus scrapes by IP
 * or service name, the answer is aggregate counters with no session or client
 * data, and nothing here changes state; metrics_addr belongs on an internal
 * interface (docs/security-http.md).
 */

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../../actors/ports.js';
import type { HostPort } from '../quic/types.js';
import { listenHttp } from './listen.js';
import { sendJson, setSecurityHeaders } from './respond.js';

export interface MetricsServer {
  readonly address: HostPort;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  logger?: Logger;
}

export async function startMetricsServer(opts: MetricsServerOptions): Promise<MetricsServer> {
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://gatesvr.local').pathname;
    if (path !== '/metrics') {
      sendJson(req, res, 404, { error: 'not_found', message: 'metrics are at /metrics' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(req, res, 405, { error: 'method_not_allowed', message: `${req.method} /metrics` });
      return;
    }
    const body = Buffer.from(await opts.registry.metrics(), 'utf8');
    res.writeHead(200, {
      'content-type': opts.registry.contentType,
      'content-length': body.length,
      'cache-control': 'no-store',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  const server = createServer((req, res) => {
    setSecurityHeaders(res);
    handle(req, res).catch((err: unknown) => {
      opts.logger?.warn({ err }, 'metrics scrape failed');
      if (!res.headersSent) sendJson(req, res, 500, { error: 'internal', message: 'scrape failed' });
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  return listenHttp(server, opts.host, opts.port);
}
