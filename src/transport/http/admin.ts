/**
 * Admin API under /admin on http_addr.
 *
 *   GET  /admin/sessions?openid=&phase=&attached=&zone=&limit=   list (newest last)
 *   GET  /admin/sessions/:id                                    one actor snapshot
 *   POST /admin/sessions/:id/kick                               end the session (close 0x00)
 *   GET  /admin/events                                          SSE stream of session changes
 *                                                               (inspector.enabled)
 *
 * Access: with admin.token set every request needs `Authorization: Bearer <token>`
 * (none: 401, wrong: 403). Without a token, admin.loopback_only serves local
 * peers only (loopback and not forwarded by a proxy; others: 403); with both off
 * the API is open. Host and cross-site checks run before (http-server.ts); a
 * state-changing request must also be `Content-Type: application/json` (415), so
 * that no HTML form or text/plain "simple" request can reach it.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SessionActor } from '../../actors/session-actor.js';
import type { SessionSystem } from '../../actors/session-system.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { InspectorMessage, SessionInspector } from './inspector.js';
import { isJsonContentType, isLocalPeer, SAFE_METHODS } from './request-guard.js';
import { HttpError, readBody, sendJson } from './respond.js';
import { sessionDetail, sessionView } from './views.js';

export interface AdminContext {
  config: GatewayConfig;
  system: SessionSystem;
  inspector: SessionInspector | null;
  logger?: { info(obj: object, msg?: string): void } | undefined;
  /** Registers a live stream so that closing the server ends it; returns the unregister. */
  trackStream(stop: () => void): () => void;
}

const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 10_000;
const SSE_PING_MS = 15_000;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Throws 401/403 unless the request may use the admin API. */
export function authorizeAdmin(req: IncomingMessage, config: GatewayConfig): void {
  const token = config.admin.token;
  if (token !== '') {
    const header = req.headers.authorization;
    if (header === undefined || header.trim() === '') {
      throw new HttpError('UNAUTHENTICATED', 'admin API needs "Authorization: Bearer <admin.token>"');
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new HttpError('UNAUTHENTICATED', 'Authorization must be "Bearer <admin.token>"');
    // Compare digests: constant time, and no length leak.
    if (!timingSafeEqual(digest(m[1]!), digest(token))) throw new HttpError('FORBIDDEN', 'bad admin token');
    return;
  }
  if (config.admin.loopbackOnly && !isLocalPeer(req.socket.remoteAddress, req.headers)) {
    throw new HttpError(
      'FORBIDDEN',
      'admin API answers local clients only (set admin.token for remote or proxied access)',
    );
  }
}

/**
 * /stats and /performance: open to local peers; others (a forwarded request too)
 * pass the admin rules: the token when one is set.
 */
export function authorizeOps(req: IncomingMessage, config: GatewayConfig): void {
  if (isLocalPeer(req.socket.remoteAddress, req.headers)) return;
  authorizeAdmin(req, config);
}

/** The JSON body of a state-changing admin request: empty, or a JSON document (400 otherwise). */
async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const text = await readBody(req);
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new HttpError('BAD_REQUEST', `body is not JSON: ${(err as Error).message}`);
  }
}

/** 405 unless the route takes the method; a state-changing one must be JSON (415). */
function method(req: IncomingMessage, ...allowed: string[]): void {
  const m = req.method ?? 'GET';
  if (allowed.includes('GET') && m === 'HEAD') return;
  if (!allowed.includes(m)) {
    throw new HttpError('METHOD_NOT_ALLOWED', `${m} not allowed here`, allowed.join(', '));
  }
  if (!SAFE_METHODS.has(m) && !isJsonContentType(req.headers['content-type'])) {
    throw new HttpError(
      'UNSUPPORTED_MEDIA_TYPE',
      'state-changing admin requests need "Content-Type: application/json"',
    );
  }
}

function find(system: SessionSystem, raw: string): SessionActor {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new HttpError('BAD_REQUEST', 'malformed session id');
  }
  const actor = system.get(id);
  if (!actor || actor.isEnded) throw new HttpError('SESSION_NOT_FOUND', `no session ${id}`);
  return actor;
}

function listSessions(system: SessionSystem, url: URL) {
  const q = url.searchParams;
  const openid = q.get('openid');
  const phase = q.get('phase');
  if (phase !== null && phase !== 'inited' && phase !== 'normal') {
    throw new HttpError('BAD_REQUEST', 'phase must be inited or normal');
  }
  const attachedText = q.get('attached');
  if (attachedText !== null && attachedText !== 'true' && attachedText !== 'false') {
    throw new HttpError('BAD_REQUEST', 'attached must be true or false');
  }
  const zoneText = q.get('zone');
  if (zoneText !== null && !/^-?\d+$/.test(zoneText))
    throw new HttpError('BAD_REQUEST', 'zone must be an integer');
  const limitText = q.get('limit');
  let limit = DEFAULT_LIMIT;
  if (limitText !== null) {
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) {
      throw new HttpError('BAD_REQUEST', `limit must be 1..${MAX_LIMIT}`);
    }
    limit = Number(limitText);
  }
  let candidates: Iterable<SessionActor>;
  if (openid !== null) {
    const one = system.findByOpenid(openid);
    candidates = one ? [one] : [];
  } else {
    candidates = system.sessions();
  }
  const sessions = [];
  let matched = 0;
  for (const actor of candidates) {
    if (actor.isEnded) continue;
    const s = actor.state;
    if (phase !== null && s.phase !== phase) continue;
    if (attachedText !== null && s.attached !== (attachedText === 'true')) continue;
    if (zoneText !== null && s.zone !== Number(zoneText)) continue;
    matched++;
    if (sessions.length < limit) sessions.push(sessionView(actor));
  }
  return { total: matched, count: sessions.length, limit, sessions };
}

function streamEvents(req: IncomingMessage, res: ServerResponse, ctx: AdminContext): void {
  const inspector = ctx.inspector;
  if (!inspector) {
    throw new HttpError('INSPECTOR_DISABLED', 'live session events need inspector.enabled: true');
  }
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  req.socket.setNoDelay(true);
  const write = (event: string, data: unknown) => {
    res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const sessions = [];
  for (const actor of ctx.system.sessions()) {
    if (!actor.isEnded) sessions.push(sessionView(actor));
    if (sessions.length >= MAX_LIMIT) break;
  }
  write('snapshot', { sessions, total: ctx.system.size });
  const unsubscribe = inspector.subscribe((msg: InspectorMessage) => write(msg.type, msg));
  const ping = setInterval(() => res.write(': ping\n\n'), SSE_PING_MS);
  ping.unref();
  let untrack: () => void = () => {};
  const stop = () => {
    clearInterval(ping);
    unsubscribe();
    untrack();
    if (!res.writableEnded) res.end();
  };
  untrack = ctx.trackStream(stop);
  req.once('close', stop);
  res.once('error', stop);
}

export async function handleAdmin(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  path: string,
  ctx: AdminContext,
): Promise<void> {
  // Read now: after the body, node may have detached req.socket (null).
  const remote = req.socket.remoteAddress;
  authorizeAdmin(req, ctx.config);
  const parts = path.split('/').filter((p) => p !== '');
  // parts[0] === 'admin'
  if (parts.length === 2 && parts[1] === 'sessions') {
    method(req, 'GET');
    sendJson(req, res, 200, listSessions(ctx.system, url));
    return;
  }
  if (parts.length === 3 && parts[1] === 'sessions') {
    method(req, 'GET');
    sendJson(req, res, 200, { session: sessionDetail(find(ctx.system, parts[2]!)) });
    return;
  }
  if (parts.length === 4 && parts[1] === 'sessions' && parts[3] === 'kick') {
    method(req, 'POST');
    const actor = find(ctx.system, parts[2]!);
    await readJsonBody(req);
    const { sessionId, openid } = actor;
    ctx.system.kick(sessionId, 'admin_kick');
    ctx.logger?.info({ sessionId, openid, remote }, 'admin kicked session');
    sendJson(req, res, 200, { kicked: true, sessionId, openid });
    return;
  }
  if (parts.length === 2 && parts[1] === 'events') {
    method(req, 'GET');
    streamEvents(req, res, ctx);
    return;
  }
  throw new HttpError('NOT_FOUND', `no admin route ${path}`);
}
