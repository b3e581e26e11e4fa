/**
 * Demo upstream services (hello, business, zone) as real gRPC servers implementing
 * gatesvr.v1.UpstreamService. Every service answers through one generic handler: its
 * own action table, then the actions common to all (sleep, fail, big), then echo.
 *
 * Common test actions:
 *   sleep  params.ms (<= 60000) then echo;            fail  gRPC status params.status (default INTERNAL);
 *   big    params.bytes (<= 64 MiB) bytes of 'x'.
 */
import * as grpc from '@grpc/grpc-js';
import type {
  StatusRequest,
  StatusResponse,
  UpstreamRequest,
  UpstreamResponse,
} from '../protocol/messages.js';
import {
  bindServer,
  DEFAULT_SERVER_OPTIONS,
  StatusError,
  shutdownServer,
  unaryHandler,
} from '../transport/grpc/server-util.js';
import { joinHostPort, UpstreamServiceDefinition } from '../transport/grpc/service-defs.js';

export type DemoServiceName = 'hello' | 'business' | 'zone';

/** One instance: a port (0 = free), `host:port`, or an address object. */
export type DemoAddr = number | string | { host?: string; port: number };

export interface DemoUpstreamsOptions {
  /** Instances per service (one or many); an absent service gets one on a free port. */
  hello?: DemoAddr | DemoAddr[];
  business?: DemoAddr | DemoAddr[];
  zone?: DemoAddr | DemoAddr[];
  /** Default host (127.0.0.1). */
  host?: string;
  /** Capacity of `received` (default 1000). */
  receivedCapacity?: number;
  /** Serve over TLS with this certificate (chain) and key, PEM (default plaintext). */
  tls?: { certPem: string; keyPem: string };
}

export interface ReceivedRequest {
  service: DemoServiceName;
  /** The instance that answered, as in `addresses`. */
  address: string;
  request: UpstreamRequest;
}

export interface DemoUpstreams {
  addresses: { hello: string[]; business: string[]; zone: string[] };
  /** The latest requests, oldest first (bounded). */
  received: ReceivedRequest[];
  close(): Promise<void>;
}

type Reply = Partial<UpstreamResponse>;
type Action = (
  req: UpstreamRequest,
  service: DemoServiceName,
  call?: grpc.ServerUnaryCall<UpstreamRequest, Reply>,
) => Reply | Promise<Reply>;

const MAX_SLEEP_MS = 60_000;
const MAX_BIG_BYTES = 64 * 1024 * 1024;
const startedAt = Date.now();
const enc = new TextEncoder();
const dec = new TextDecoder();

const json = (value: unknown): Uint8Array => enc.encode(JSON.stringify(value));
const text = (value: string): Uint8Array => enc.encode(value);
const ok = (data: Uint8Array | string, message = 'ok', headers: Record<string, string> = {}): Reply => ({
  code: 0,
  message,
  data: typeof data === 'string' ? text(data) : data,
  headers,
});
const badInput = (message: string): Reply => ({ code: 400, message });
const echo: Action = (req) => ok(req.data ?? new Uint8Array());

const DECIMAL = /^-?\d+$/;
const NUMBER = /^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

const helloActions: Record<string, Action> = {
  hello: login,
  login,
  logout: () => ok('', 'bye'),
  status: (req, service) =>
    ok(json({ service, openid: req.openid, session_id: req.sessionId, uptime: uptimeSeconds() })),
};

function login(req: UpstreamRequest): Reply {
  const zone = req.params?.['zone'] ?? '1';
  if (!DECIMAL.test(zone)) return badInput(`bad zone "${zone.slice(0, 32)}"`);
  return ok(json({ openid: req.openid }), 'welcome', { zone });
}

const zoneActions: Record<string, Action> = {
  echo,
  calculate(req) {
    const p = req.params ?? {};
    const a = p['a'] ?? '';
    const b = p['b'] ?? '';
    if (!NUMBER.test(a) || !NUMBER.test(b)) return badInput('a and b must be numbers');
    const x = Number(a);
    const y = Number(b);
    let r: number;
    switch (p['op']) {
      case 'add':
        r = x + y;
        break;
      case 'sub':
        r = x - y;
        break;
      case 'mul':
        r = x * y;
        break;
      case 'div':
        if (y === 0) return badInput('division by zero');
        r = x / y;
        break;
      default:
        return badInput('op must be add, sub, mul or div');
    }
    if (!Number.isFinite(r)) return badInput('result out of range');
    return ok(String(r));
  },
  time: () => ok(new Date().toISOString()),
  zone: (req) => ok(req.headers?.['zone'] ?? req.params?.['zone'] ?? '0'),
};

const commonActions: Record<string, Action> = {
  sleep(req, service, call) {
    const ms = Math.min(MAX_SLEEP_MS, Math.max(0, Number(req.params?.['ms'] ?? 0) || 0));
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(echo(req, service)), ms);
      // The caller gave up (deadline, cancel): stop waiting, nobody reads the answer.
      call?.once('cancelled', () => {
        clearTimeout(timer);
        resolve(echo(req, service));
      });
    });
  },
  fail(req) {
    const name = (req.params?.['status'] ?? 'INTERNAL').toUpperCase();
    const code = (grpc.status as unknown as Record<string, number>)[name];
    throw new StatusError(
      typeof code === 'number' && code !== grpc.status.OK ? code : grpc.status.INTERNAL,
      `demo failure (${name})`,
    );
  },
  big(req) {
    const n = Math.min(MAX_BIG_BYTES, Math.max(0, Math.floor(Number(req.params?.['bytes'] ?? 0) || 0)));
    return ok(Buffer.alloc(n, 0x78));
  },
};

// Maps, not object lookups: an action named "constructor" must not find Object's.
const table = (actions: Record<string, Action>): Map<string, Action> => new Map(Object.entries(actions));
const common = table(commonActions);
const serviceActions: Record<DemoServiceName, Map<string, Action>> = {
  hello: table(helloActions),
  zone: table(zoneActions),
  business: new Map(),
};

function uptimeSeconds(): number {
  return Math.floor((Date.now() - startedAt) / 1000);
}

function parseAddr(addr: DemoAddr, host: string): { host: string; port: number } {
  if (typeof addr === 'number') return { host, port: addr };
  if (typeof addr === 'string') {
    const i = addr.lastIndexOf(':');
    if (i < 0) return { host, port: Number(addr) };
    return { host: addr.slice(0, i).replace(/^\[|\]$/g, '') || host, port: Number(addr.slice(i + 1)) };
  }
  return { host: addr.host ?? host, port: addr.port };
}

export async function startDemoUpstreams(opts: DemoUpstreamsOptions = {}): Promise<DemoUpstreams> {
  const host = opts.host ?? '127.0.0.1';
  const credentials = opts.tls
    ? grpc.ServerCredentials.createSsl(
        null,
        [{ cert_chain: Buffer.from(opts.tls.certPem), private_key: Buffer.from(opts.tls.keyPem) }],
        false,
      )
    : grpc.ServerCredentials.createInsecure();
  const capacity = Math.max(1, opts.receivedCapacity ?? 1000);
  const received: ReceivedRequest[] = [];
  const servers: grpc.Server[] = [];
  const addresses: DemoUpstreams['addresses'] = { hello: [], business: [], zone: [] };

  function record(entry: ReceivedRequest): void {
    received.push(entry);
    if (received.length > capacity) received.splice(0, received.length - capacity);
  }

  async function startOne(service: DemoServiceName, at: { host: string; port: number }): Promise<void> {
    const server = new grpc.Server(DEFAULT_SERVER_OPTIONS);
    const own = serviceActions[service];
    const box = { address: '' };
    server.addService(UpstreamServiceDefinition, {
      ProcessRequest: unaryHandler<UpstreamRequest, Reply>(async (req, call) => {
        record({ service, address: box.address, request: req });
        const name = (req.action ?? '').toLowerCase();
        const action = own.get(name) ?? common.get(name) ?? echo;
        const reply = await action(req, service, call);
        return { ...reply, clientSeqId: req.clientSeqId ?? 0 };
      }),
      GetStatus: unaryHandler<StatusRequest, Partial<StatusResponse>>(() => ({
        status: 'ok',
        uptime: uptimeSeconds(),
        activeConnections: 0,
        metadata: { service },
      })),
    });
    servers.push(server);
    const port = await bindServer(server, at.host, at.port, credentials);
    box.address = joinHostPort(at.host, port);
    addresses[service].push(box.address);
  }

  try {
    for (const service of ['hello', 'business', 'zone'] as const) {
      const spec = opts[service] ?? 0;
      const list = Array.isArray(spec) ? spec : [spec];
      for (const addr of list) await startOne(service, parseAddr(addr, host));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => shutdownServer(s, 500)));
    throw err;
  }

  return {
    addresses,
    received,
    async close() {
      await Promise.all(servers.map((s) => shutdownServer(s, 1000)));
    },
  };
}

/** Decodes an upstream answer's data as UTF-8 (handy in tests and the demo CLI). */
export function dataText(res: { data?: Uint8Array | null }): string {
  return res.data ? dec.decode(res.data) : '';
}
