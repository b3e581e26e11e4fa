/**
 * Benchmark child: the bare QUIC engine (createQuicServer) with no gateway on
 * top, the ceiling the gateway is measured against.
 *
 *   init { certPem, keyPem }  -> { port }
 *   every frame a client sends is echoed (a client knows its stream is open)
 *   pump { frame (base64) }   -> writes that frame to every connection, as fast
 *                                as flow control takes it, until `halt`
 *   halt                      -> { written }
 *   rounds { frame, n }       -> writes that frame once to every connection per
 *                                event-loop turn, n turns (a broadcast's fan-out
 *                                with nothing above the engine); answers at once
 *   stats { gc? }             -> ProcStats + { connections }
 */
import { FrameDecoder } from '../../src/protocol/framing.js';
import { createQuicServer } from '../../src/transport/quic/index.js';
import type { QuicServer, StreamConnection } from '../../src/transport/quic/types.js';
import { serveChild } from './child.js';

/** Frames written to one connection per event-loop turn while pumping. */
const BATCH = 32;

interface Conn {
  c: StreamConnection;
  blocked: boolean;
}

let server: QuicServer | null = null;
const conns = new Set<Conn>();
let pumpFrame: Uint8Array | null = null;
let written = 0;
let scheduled = false;

function schedule(): void {
  if (scheduled || pumpFrame === null) return;
  scheduled = true;
  setImmediate(tick);
}

function tick(): void {
  scheduled = false;
  const f = pumpFrame;
  if (f === null) return;
  let any = false;
  for (const k of conns) {
    if (k.blocked || k.c.closed) continue;
    for (let i = 0; i < BATCH; i++) {
      written++;
      if (!k.c.write(f)) {
        k.blocked = true;
        break;
      }
    }
    if (!k.blocked) any = true;
  }
  if (any) schedule();
}

serveChild(
  async (body) => {
    switch (body.type) {
      case 'init': {
        server = createQuicServer({
          host: '127.0.0.1',
          port: 0,
          tls: { certPem: body['certPem'] as string, keyPem: body['keyPem'] as string },
          idleTimeoutMs: 60_000,
          highWaterMark: 256 * 1024,
        });
        server.onConnection = (c) => {
          const k: Conn = { c, blocked: false };
          const dec = new FrameDecoder(1024 * 1024);
          conns.add(k);
          c.onData = (chunk) => {
            for (const f of dec.push(chunk)) {
              const out = Buffer.allocUnsafe(4 + f.length);
              out.writeUInt32BE(f.length, 0);
              out.set(f, 4);
              c.write(out);
            }
          };
          c.onDrain = () => {
            k.blocked = false;
            schedule();
          };
          c.onClose = () => conns.delete(k);
          schedule();
        };
        const { port } = await server.listen();
        return { port };
      }
      case 'pump':
        pumpFrame = Buffer.from(body['frame'] as string, 'base64');
        written = 0;
        for (const k of conns) k.blocked = false;
        schedule();
        return null;
      case 'rounds': {
        const frame = Buffer.from(body['frame'] as string, 'base64');
        let left = body['n'] as number;
        const round = () => {
          for (const k of conns) if (!k.c.closed) k.c.write(frame);
          if (--left > 0) setImmediate(round);
        };
        setImmediate(round);
        return null;
      }
      case 'halt':
        pumpFrame = null;
        return { written };
      case 'stats':
        return { connections: conns.size };
      default:
        throw new Error(`unknown request ${body.type}`);
    }
  },
  async () => {
    await server?.close();
  },
);
