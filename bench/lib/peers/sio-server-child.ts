/**
 * Peers benchmark child: a Socket.IO 4.8 server (WebSocket transport only,
 * connection-state recovery on) that is also the producer, since Socket.IO
 * emits from the server.
 *
 *   init {}                          -> { port }
 *   unicast { target, n, window }    -> { seconds }  socket.timeout().emit with ack, `window` outstanding
 *   broadcast { n, window }          -> { seconds }  io.timeout().emit, acked by every client
 *   queue { target, n }              -> {}           once `target` is disconnected: io.to(target).emit
 *                                                     (kept for connection-state recovery)
 *   stats                            -> { clients }
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket } from 'socket.io';
import { serveChild } from '../child.js';
import { sendWindowed, stamp } from './payload.js';

const ACK_TIMEOUT_MS = 60_000;
const http = createServer();
const io = new Server(http, {
  transports: ['websocket'],
  connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true },
});
const sockets = new Map<string, Socket>();
const gone = new Map<string, () => void>();

io.on('connection', (socket) => {
  const id = String(socket.handshake.auth['id']);
  sockets.set(id, socket);
  // A recovered socket is back in its rooms already; joining again is a no-op.
  void socket.join(id);
  // Recovery restores a session only from an offset the client holds, i.e. after it received one
  // broadcast without ack: a client that asks for it gets one such primer at its first connect.
  if (socket.handshake.auth['primer'] === true && !socket.recovered) io.to(id).emit('p');
  socket.on('disconnect', () => {
    if (sockets.get(id) === socket) sockets.delete(id);
    gone.get(id)?.();
  });
});

function disconnected(id: string): Promise<void> {
  if (!sockets.has(id)) return Promise.resolve();
  return new Promise((resolve) => gone.set(id, resolve));
}

serveChild(
  async (body) => {
    switch (body.type) {
      case 'init':
        await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
        return { port: (http.address() as AddressInfo).port };
      case 'unicast': {
        const socket = sockets.get(body['target'] as string);
        if (!socket) throw new Error(`no socket for ${String(body['target'])}`);
        const t = socket.timeout(ACK_TIMEOUT_MS);
        return sendWindowed(body['n'] as number, body['window'] as number, async (seq) => {
          await t.emitWithAck('m', stamp(seq));
        });
      }
      case 'broadcast': {
        const t = io.timeout(ACK_TIMEOUT_MS);
        return sendWindowed(body['n'] as number, body['window'] as number, async (seq) => {
          await t.emitWithAck('m', stamp(seq));
        });
      }
      case 'queue': {
        const target = body['target'] as string;
        await disconnected(target);
        gone.delete(target);
        const n = body['n'] as number;
        for (let seq = 1; seq <= n; seq++) io.to(target).emit('m', stamp(seq));
        return {};
      }
      case 'stats':
        return { clients: io.engine.clientsCount };
      default:
        throw new Error(`unknown request ${body.type}`);
    }
  },
  async () => {
    await io.close();
  },
);
