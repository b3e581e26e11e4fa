/**
 * A minimal session client for timing: one QUIC connection, START sent at a
 * moment the caller controls, every ServerPush handed to a callback. (The SDK
 * hides when START leaves; the resume benchmark needs that instant.)
 */
import { RequestType } from '../../src/protocol/codes.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/framing.js';
import { ClientAck, ClientRequest, ServerPush, StartRequest } from '../../src/protocol/messages.js';
import { connectQuic } from '../../src/transport/quic/index.js';
import type { StreamConnection } from '../../src/transport/quic/types.js';

export class RawSession {
  onPush: (p: ServerPush) => void = () => {};
  private msgId = 1;
  private readonly decoder = new FrameDecoder(1024 * 1024);

  private constructor(
    readonly conn: StreamConnection,
    readonly openid: string,
  ) {
    conn.onData = (chunk) => {
      for (const f of this.decoder.push(chunk)) this.onPush(ServerPush.decode(f));
    };
  }

  static async connect(port: number, caPem: string, openid: string): Promise<RawSession> {
    const conn = await connectQuic({
      host: '127.0.0.1',
      port,
      caPem,
      serverName: 'localhost',
      idleTimeoutMs: 120_000,
    });
    return new RawSession(conn, openid);
  }

  private send(type: RequestType, payload: Uint8Array): void {
    this.conn.write(
      encodeFrame(
        ClientRequest.encode({ msgId: this.msgId++, seqId: 0, type, payload, openid: this.openid }),
      ),
    );
  }

  start(lastAckedSeqId: number): void {
    this.send(RequestType.START, StartRequest.encode({ openid: this.openid, authToken: '', lastAckedSeqId }));
  }

  ack(seq: number): void {
    this.send(RequestType.ACK, ClientAck.encode({ ackedSeqId: seq }));
  }

  close(): void {
    this.conn.close(0, 'bench');
  }
}
