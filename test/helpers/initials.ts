/**
 * Half-open QUIC handshakes for edge tests: the first datagram (a padded client
 * Initial) of real quiche client connections, sent from one UDP socket and never
 * continued. The server's answers are collected, not replied to.
 */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import {
  CID_LEN,
  clientConfig,
  DEFAULT_ALPN,
  type NativeConfig,
  quiche,
} from '../../src/transport/quic/native.js';

export class InitialFlood {
  /** Every datagram the server sent back. */
  readonly replies: Buffer[] = [];
  private readonly config: NativeConfig;

  private constructor(
    private readonly sock: dgram.Socket,
    private readonly local: { host: string; port: number },
    private readonly server: { host: string; port: number },
  ) {
    this.config = clientConfig({
      alpn: DEFAULT_ALPN,
      idleTimeoutMs: 30_000,
      insecure: true,
      maxUdpPayload: 1350,
    });
    sock.on('message', (m) => this.replies.push(m));
  }

  static async open(server: { host: string; port: number }, localHost = '127.0.0.1'): Promise<InitialFlood> {
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => sock.bind(0, localHost, () => resolve()));
    const a = sock.address();
    return new InitialFlood(sock, { host: a.address, port: a.port }, server);
  }

  /** Start `n` handshakes (each a fresh connection id), none of them ever finished. */
  async send(n: number): Promise<void> {
    const out = Buffer.alloc(1350);
    for (let i = 0; i < n; i++) {
      const q = quiche.Connection.connect(
        'localhost',
        randomBytes(CID_LEN),
        this.local,
        this.server,
        this.config,
      );
      const r = q.send(out);
      if (r === null) throw new Error('quiche produced no Initial');
      const pkt = Buffer.from(out.subarray(0, r[0]));
      await new Promise<void>((resolve) =>
        this.sock.send(pkt, this.server.port, this.server.host, () => resolve()),
      );
    }
  }

  /** Stateless Retry packets received (long header, packet type 3). */
  get retries(): number {
    return this.replies.filter((m) => m.length > 0 && (m[0]! & 0xf0) === 0xf0).length;
  }

  close(): void {
    this.sock.close();
  }
}
