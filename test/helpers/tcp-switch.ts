import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP port the test owns for its whole life: it either refuses
 * (accepts and resets, so the peer sees a dead address) or forwards to a target.
 * Freeing a port and listening on it again later races with every other process
 * on the machine; holding it does not.
 */
export interface TcpSwitch {
  readonly address: string;
  refuse(): void;
  forward(target: string): void;
  close(): Promise<void>;
}

export async function startTcpSwitch(): Promise<TcpSwitch> {
  let target: string | undefined;
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    if (!target) {
      socket.resetAndDestroy();
      return;
    }
    const [host, port] = splitHostPort(target);
    const upstream = connect({ host, port });
    open.add(upstream);
    upstream.on('close', () => open.delete(upstream));
    socket.pipe(upstream).pipe(socket);
    socket.on('error', () => upstream.destroy());
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('tcp switch: no address');
  const dropAll = () => {
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    address: `127.0.0.1:${addr.port}`,
    refuse() {
      target = undefined;
      dropAll();
    },
    forward(to) {
      target = to;
    },
    close() {
      dropAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function splitHostPort(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}
