/**
 * A byte-level client for protocol tests: writes exact frames on the session
 * stream and reads decoded ServerPush frames, with no SDK logic in between.
 */
import { RequestType } from '../../src/protocol/codes.js';
import {
  BusinessRequest,
  ClientAck,
  ClientRequest,
  HeartbeatRequest,
  ServerPush,
  StartRequest,
} from '../../src/protocol/messages.js';
import type { ClientConnection } from '../../src/transport/quic/client.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/quic/framing.js';
import { connectQuic } from '../../src/transport/quic/index.js';
import type { CloseInfo } from '../../src/transport/quic/types.js';

export class RawClient {
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);
  private readonly inbox: ServerPush[] = [];
  private waiter: (() => void) | null = null;
  closeInfo: CloseInfo | null = null;
  private closeWaiters: Array<(i: CloseInfo) => void> = [];

  private constructor(readonly conn: ClientConnection) {
    conn.onData = (chunk) => {
      for (const f of this.decoder.push(chunk)) this.inbox.push(ServerPush.decode(f));
      this.waiter?.();
    };
    conn.onClose = (info) => {
      this.closeInfo = info;
      for (const w of this.closeWaiters) w(info);
      this.waiter?.();
    };
  }

  static async connect(port: number, caPem: string): Promise<RawClient> {
    return new RawClient(await connectQuic({ host: '127.0.0.1', port, caPem, serverName: 'localhost' }));
  }

  writeRaw(bytes: Uint8Array): void {
    this.conn.write(bytes);
  }

  send(req: Partial<ClientRequest>): void {
    this.conn.write(encodeFrame(ClientRequest.encode(req)));
  }

  start(openid: string, msgId = 1, lastAckedSeqId = 0, authToken = ''): void {
    this.send({
      msgId,
      type: RequestType.START,
      payload: StartRequest.encode({ openid, authToken, lastAckedSeqId }),
    });
  }

  business(
    seq: number,
    action: string,
    params: Record<string, string> = {},
    msgId = 100 + seq,
    data?: Uint8Array,
  ): void {
    this.send({
      msgId,
      seqId: seq,
      type: RequestType.BUSINESS,
      payload: BusinessRequest.encode({ action, params, data }),
    });
  }

  heartbeat(msgId: number, clientTimestamp: number): void {
    this.send({ msgId, type: RequestType.HEARTBEAT, payload: HeartbeatRequest.encode({ clientTimestamp }) });
  }

  ack(seq: number): void {
    this.send({ msgId: 0, type: RequestType.ACK, payload: ClientAck.encode({ ackedSeqId: seq }) });
  }

  stop(): void {
    this.send({ msgId: 0, type: RequestType.STOP, payload: new Uint8Array() });
  }

  /** The next push, or null if the connection closed first. */
  async next(timeoutMs = 10_000): Promise<ServerPush> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      if (this.closeInfo)
        throw new Error(`connection closed (code ${this.closeInfo.code}) while waiting for a push`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no push within timeout');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(t);
          this.waiter = null;
          resolve();
        };
      });
    }
    return this.inbox.shift()!;
  }

  /** Wait for the next push satisfying `pred`, dropping others. */
  async nextWhere(pred: (p: ServerPush) => boolean, timeoutMs = 10_000): Promise<ServerPush> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = await this.next(Math.max(1, deadline - Date.now()));
      if (pred(p)) return p;
    }
  }

  closed(timeoutMs = 15_000): Promise<CloseInfo> {
    if (this.closeInfo) return Promise.resolve(this.closeInfo);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('connection did not close')), timeoutMs);
      this.closeWaiters.push((i) => {
        clearTimeout(t);
        resolve(i);
      });
    });
  }

  close(): void {
    this.conn.close(0, 'test done');
  }
}
