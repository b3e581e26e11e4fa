/** Listen and close for the operations HTTP servers (http_addr, metrics_addr). */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { HostPort } from '../quic/types.js';

export interface HttpListening {
  /** The bound address (port 0 resolved). */
  readonly address: HostPort;
  /**
   * Runs `beforeClose` once, stops accepting, closes idle connections and cuts
   * anything still open (a slow client) after a short grace. Idempotent.
   */
  close(): Promise<void>;
}

/** Tracks `server`'s sockets and listens on host:port. */
export async function listenHttp(
  server: Server,
  host: string,
  port: number,
  beforeClose?: () => void,
): Promise<HttpListening> {
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address();
  const address: HostPort =
    addr && typeof addr === 'object' ? { host: addr.address, port: addr.port } : { host, port };
  let closing: Promise<void> | null = null;
  return {
    address,
    close() {
      closing ??= new Promise<void>((resolve) => {
        beforeClose?.();
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => {
          for (const s of sockets) s.destroy();
        }, 1000).unref();
      });
      return closing;
    },
  };
}
