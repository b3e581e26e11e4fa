/**
 * HTTP/1.1 requests with any headers (Host and Origin included, which fetch will
 * not send as given) to a gateway's operations servers.
 */
import { request } from 'node:http';

export interface RawHttpRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface RawHttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

export function rawHttp(port: number, req: RawHttpRequest): Promise<RawHttpResponse> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: '127.0.0.1',
        port,
        method: req.method ?? 'GET',
        path: req.path,
        headers: req.headers ?? {},
        // A Host given (even "") is sent as is; node adds its own only when none is.
        setHost: req.headers?.host === undefined,
        agent: false,
        // Header values straight from a fuzzer may hold bytes node would refuse to send.
        insecureHTTPParser: true,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(req.body);
  });
}
