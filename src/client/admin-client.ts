/**
 * Client of the gateway's HTTP admin API (src/transport/http/admin.ts) for
 * operators' tools: list, one snapshot, kick, and the live SSE event stream.
 * Uses Node's fetch; sends the Bearer token when given and JSON on POSTs, as the
 * API requires (a kick without `Content-Type: application/json` is refused, 415).
 */
import { CodedError } from '../errors.js';
import { type SseEvent, SseParser } from './sse.js';

/** An answer of the admin API other than 2xx, or a gateway that could not be reached (status 0). */
export class AdminApiError extends CodedError<'ADMIN_API'> {
  constructor(
    message: string,
    /** HTTP status; 0 when no answer came. */
    readonly status: number,
    /** The API's error code (`session_not_found`, ...); '' when it gave none. */
    readonly error: string,
    options?: { cause?: unknown },
  ) {
    super('ADMIN_API', message, options);
  }
}

export interface SessionFilter {
  openid?: string | undefined;
  phase?: string | undefined;
}

/** A session as the API lists it (views.ts SessionView): the fields tools read, the rest kept. */
export interface AdminSession {
  sessionId: string;
  openid: string;
  phase: string;
  zone: number;
  attached: boolean;
  pending: number;
  lastActivity: number;
  [field: string]: unknown;
}

export interface SessionList {
  total: number;
  count: number;
  limit: number;
  sessions: AdminSession[];
}

export interface KickResult {
  kicked: boolean;
  sessionId: string;
  openid: string;
}

export class AdminClient {
  private readonly base: URL;

  constructor(
    url: string,
    private readonly token: string | undefined,
  ) {
    try {
      this.base = new URL(url);
    } catch (err) {
      throw new AdminApiError(`not a URL: ${JSON.stringify(url)}`, 0, '', { cause: err });
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:') {
      throw new AdminApiError(`admin URL must be http or https: ${url}`, 0, '');
    }
  }

  async sessions(filter: SessionFilter = {}): Promise<SessionList> {
    const q = new URLSearchParams();
    if (filter.openid !== undefined) q.set('openid', filter.openid);
    if (filter.phase !== undefined) q.set('phase', filter.phase);
    const qs = q.toString();
    return (await this.json('GET', `/admin/sessions${qs ? `?${qs}` : ''}`)) as SessionList;
  }

  async session(id: string): Promise<AdminSession> {
    const body = (await this.json('GET', `/admin/sessions/${encodeURIComponent(id)}`)) as {
      session: AdminSession;
    };
    return body.session;
  }

  async kick(id: string): Promise<KickResult> {
    return (await this.json('POST', `/admin/sessions/${encodeURIComponent(id)}/kick`)) as KickResult;
  }

  /**
   * Follows GET /admin/events, calling `onEvent` per SSE event, until `signal`
   * aborts (resolves) or the server ends the stream (rejects).
   */
  async events(onEvent: (ev: SseEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await this.request('GET', '/admin/events', signal);
    const body = res.body;
    if (!body) throw new AdminApiError('event stream has no body', res.status, '');
    const parser = new SseParser();
    const decoder = new TextDecoder();
    try {
      for await (const chunk of body) {
        for (const ev of parser.push(decoder.decode(chunk as Uint8Array, { stream: true }))) onEvent(ev);
      }
    } catch (err) {
      if (signal.aborted) return;
      throw new AdminApiError(`event stream broke: ${(err as Error).message}`, 0, '', { cause: err });
    }
    if (signal.aborted) return;
    throw new AdminApiError('event stream ended by the gateway', res.status, '');
  }

  private async json(method: 'GET' | 'POST', path: string): Promise<unknown> {
    const res = await this.request(method, path);
    return (await res.json()) as unknown;
  }

  private async request(method: 'GET' | 'POST', path: string, signal?: AbortSignal): Promise<Response> {
    const url = new URL(path, this.base);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (method === 'POST') headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(signal ? { signal } : {}) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new AdminApiError(`cannot reach ${this.base.origin}: ${why}`, 0, '', { cause: err });
    }
    if (!res.ok) {
      const text = await res.text();
      let error = '';
      let message = text.trim().split('\n')[0] ?? '';
      try {
        const body = JSON.parse(text) as { error?: unknown; message?: unknown };
        if (typeof body.error === 'string') error = body.error;
        if (typeof body.message === 'string') message = body.message;
      } catch {
        // Not the API's JSON (a proxy's page): its first line is the message.
      }
      throw new AdminApiError(
        `HTTP ${res.status}${error ? ` ${error}` : ''}${message ? `: ${message}` : ''}`,
        res.status,
        error,
      );
    }
    return res;
  }
}
