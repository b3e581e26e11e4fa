/** A bare QUIC client speaking raw frames to a gateway (hostile and auth tests). */
import type { Gateway } from '../../src/gateway.js';
import { RequestType } from '../../src/protocol/codes.js';
import { ClientRequest, ServerPush, StartRequest } from '../../src/protocol/messages.js';
import { encodeFrame, FrameDecoder } from '../../src/transport/quic/framing.js';
import { type ClientConnection, connectQuic } from '../../src/transport/quic/index.js';
import type { CloseInfo } from '../../src/transport/quic/types.js';

export interface RawClient {
  conn: ClientConnection;
  pushes: ServerPush[];
  closed: Promise<CloseInfo>;
  /** Resolves with the next push matching `pred` (already received ones included). */
  next(pred: (p: ServerPush) => boolean, timeoutMs?: number): Promise<ServerPush>;
  send(req: Partial<ClientRequest>): void;
  start(openid: string, authToken?: string, lastAckedSeqId?: number): void;
}

export async function rawConnect(
  gw: Gateway,
  opts: { idleTimeoutMs?: number; keepAliveMs?: number } = {},
): Promise<RawClient> {
  const conn = await connectQuic({
    host: '127.0.0.1',
    port: gw.addresses.quic.port,
    caPem: gw.tls.certPem,
    serverName: 'localhost',
    idleTimeoutMs: opts.idleTimeoutMs,
    keepAliveMs: opts.keepAliveMs ?? 0,
  });
  const pushes: ServerPush[] = [];
  const waiters = new Set<() => void>();
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  conn.onData = (chunk) => {
    try {
      for (const f of decoder.push(chunk)) pushes.push(ServerPush.decode(f));
    } catch {
      // the gateway sent something we cannot parse: tests look at `pushes`
    }
    for (const w of waiters) w();
  };
  const closed = new Promise<CloseInfo>((resolve) => {
    conn.onClose = (info) => {
      resolve(info);
      for (const w of waiters) w();
    };
  });
  let msgId = 1;
  const client: RawClient = {
    conn,
    pushes,
    closed,
    next(pred, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        let seen = 0;
        const check = () => {
          for (; seen < pushes.length; seen++) {
            if (pred(pushes[seen]!)) {
              cleanup();
              resolve(pushes[seen]!);
              return;
            }
          }
          if (conn.closed) {
            cleanup();
            reject(new Error('connection closed before the expected push'));
          }
        };
        const t = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching push within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(t);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    send(req) {
      conn.write(
        encodeFrame(
          ClientRequest.encode({
            msgId: req.msgId ?? msgId++,
            seqId: req.seqId ?? 0,
            type: req.type ?? RequestType.UNKNOWN,
            payload: req.payload ?? new Uint8Array(0),
            headers: req.headers ?? {},
            openid: req.openid ?? '',
          }),
        ),
      );
    },
    start(openid, authToken = '', lastAckedSeqId = 0) {
      client.send({
        type: RequestType.START,
        payload: StartRequest.encode({ openid, authToken, lastAckedSeqId }),
      });
    },
  };
  return client;
}
