/**
 * Benchmark server process: starts one transport's server and answers the
 * parent's questions about its CPU use and counters over IPC, so CPU cost is
 * attributed per side.
 */
import { type Cert, type ImplName, startServer } from './impls.js';

export type ToChild = { type: 'cpu' } | { type: 'stop' };
export type FromChild =
  | { type: 'ready'; port: number }
  | { type: 'cpu'; userUs: number; systemUs: number; packets: number | null }
  | { type: 'error'; message: string };

const send = (m: FromChild) => process.send?.(m);

process.once('message', async (init: { impl: ImplName; cert: Cert }) => {
  try {
    const server = await startServer(init.impl, init.cert);
    process.on('message', async (m: ToChild) => {
      if (m.type === 'cpu') {
        const u = process.cpuUsage();
        const k = server.counters();
        send({
          type: 'cpu',
          userUs: u.user,
          systemUs: u.system,
          packets: k ? k.packetsSent + k.packetsReceived : null,
        });
      } else if (m.type === 'stop') {
        await Promise.race([server.close(), new Promise((r) => setTimeout(r, 2000))]);
        process.exit(0);
      }
    });
    send({ type: 'ready', port: server.port });
  } catch (e) {
    send({ type: 'error', message: (e as Error).stack ?? String(e) });
    process.exit(1);
  }
});
