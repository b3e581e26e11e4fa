/** JSON responses and errors of the operations HTTP servers. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CodedError, type ErrorName, toHttp } from '../../errors.js';
import { SECURITY_HEADERS } from './request-guard.js';

/** An error answered as JSON { error, message } with the status `toHttp` gives its code. */
export class HttpError extends CodedError {
  constructor(
    code: ErrorName,
    message: string,
    /** Allowed methods (405). */
    readonly allow?: string,
  ) {
    super(code, message);
  }

  get status(): number {
    return toHttp(this).status;
  }
}

/** Sets SECURITY_HEADERS on a response before anything is written. */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
}

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(`${JSON.stringify(body)}\n`, 'utf8');
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': data.length,
    'cache-control': 'no-store',
  });
  res.end(req.method === 'HEAD' ? undefined : data);
}

/** Reads a small request body (admin POSTs); larger ones are refused with 413. */
export async function readBody(req: IncomingMessage, limit = 16 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new HttpError('PAYLOAD_TOO_LARGE', `body over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
