/**
 * A byte-level QUIC client for protocol, auth and hostile-client tests: writes
 * exact frames on the session stream and reads decoded ServerPush frames, with
 * no SDK logic in between.
 */
import type { Gateway } from '../../src/gateway.js';
import { RequestType } from '../../src/protocol/codes.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/framing.js';
import {
  BusinessRequest,
  ClientAck,
  ClientRequest,
  HeartbeatRequest,
  ServerPush,
  StartRequest,
} from '../../src/protocol/messages.js';
import { type ClientConnection, connectQuic } from '../../src/transport/quic/index.js';
import type { CloseInfo } from '../../src/transport/quic/types.js';

export interface RawConnectOptions {
  idleTimeoutMs?: number;
  keepAliveMs?: number;
  /** Local address to send from (e.g. 127.0.0.2, another source on loopback). */
  localHost?: string;
}

export class RawClient {
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);
  /** Every push received so far, in order; `next()` hands each out once. */
  readonly pushes: ServerPush[] = [];
  private read = 0;
  private readonly waiters = new Set<() => void>();
  private nextMsgId = 1;
  closeInfo: CloseInfo | null = null;

  private constructor(readonly conn: ClientConnection) {
    conn.onData = (chunk) => {
      try {
        for (const f of this.decoder.push(chunk)) this.pushes.push(ServerPush.decode(f));
      } catch {
        // the gateway sent something we cannot parse: tests look at `pushes`
      }
      this.wake();
    };
    conn.onClose = (info) => {
      this.closeInfo = info;
      this.wake();
    };
  }

  static async connect(
    gw: Pick<Gateway, 'addresses' | 'tls'>,
    opts: RawConnectOptions = {},
  ): Promise<RawClient> {
    return new RawClient(
      await connectQuic({
        host: '127.0.0.1',
        port: gw.addresses.quic.port,
        caPem: gw.tls.certPem,
        serverName: 'localhost',
        idleTimeoutMs: opts.idleTimeoutMs,
        keepAliveMs: opts.keepAliveMs ?? 0,
        localHost: opts.localHost,
      }),
    );
  }

  writeRaw(bytes: Uint8Array): void {
    this.conn.write(bytes);
  }

  /** One ClientRequest frame; msg_id counts up from 1 unless given. */
  send(req: Partial<ClientRequest>): void {
    this.conn.write(
      encodeFrame(
        ClientRequest.encode({
          msgId: req.msgId ?? this.nextMsgId++,
          seqId: req.seqId ?? 0,
          type: req.type ?? RequestType.UNKNOWN,
          payload: req.payload ?? new Uint8Array(0),
          headers: req.headers ?? {},
          openid: req.openid ?? '',
        }),
      ),
    );
  }

  start(openid: string, opts: { msgId?: number; lastAckedSeqId?: number; authToken?: string } = {}): void {
    const { msgId, lastAckedSeqId = 0, authToken = '' } = opts;
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

  /** The next push not handed out yet; rejects if the connection closed first. */
  async next(timeoutMs = 10_000): Promise<ServerPush> {
    const deadline = Date.now() + timeoutMs;
    while (this.read === this.pushes.length) {
      if (this.closeInfo)
        throw new Error(`connection closed (code ${this.closeInfo.code}) while waiting for a push`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no push within timeout');
      await this.wait(left);
    }
    return this.pushes[this.read++]!;
  }

  /** Wait for the next push satisfying `pred`, dropping others. */
  async nextWhere(pred: (p: ServerPush) => boolean, timeoutMs = 10_000): Promise<ServerPush> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = await this.next(Math.max(1, deadline - Date.now()));
      if (pred(p)) return p;
    }
  }

  async closed(timeoutMs = 15_000): Promise<CloseInfo> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closeInfo) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('connection did not close');
      await this.wait(left);
    }
    return this.closeInfo;
  }

  close(): void {
    this.conn.close(0, 'test done');
  }

  /** Resolves on the next push or close, or after `ms`. */
  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }
}
