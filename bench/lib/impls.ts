/**
 * The three transports the raw benchmark compares, each as a server (run in a
 * child process) and a client: this engine, stock @matrixai/quic, node:tls.
 * All speak the same framing (see frames.ts): echo frames come back verbatim,
 * a push request makes the server send `total` bytes in frames of `size`.
 */
import { webcrypto } from 'node:crypto';
import tls from 'node:tls';
import { QUICClient, QUICServer, type QUICStream, events as quicEvents } from '@matrixai/quic';
import { connectQuic, createQuicServer, type TransportCounters } from '../../src/transport/quic/index.js';
import { echoFrame, KIND_PUSH, Splitter } from './frames.js';

export type ImplName = 'engine' | 'stock' | 'tls' | 'engine-16k';
export const IMPLS: ImplName[] = ['engine', 'stock', 'tls', 'engine-16k'];
/** `engine-16k`: the engine with 16 KB datagrams, informational (loopback-only setting). */
const JUMBO = 16_000;

export interface Cert {
  certPem: string;
  keyPem: string;
}

export interface BenchServer {
  port: number;
  counters(): TransportCounters | null;
  close(): Promise<void>;
}

export interface BenchClient {
  send(frame: Buffer): void;
  /** Called with each whole frame received. */
  onFrame: (frame: Buffer) => void;
  counters(): TransportCounters | null;
  close(): Promise<void>;
}

const ALPN = ['gatesvr/1'];

function splitterFeed(onFrame: (f: Buffer) => void): (chunk: Uint8Array) => void {
  const s = new Splitter(onFrame);
  return (c) => s.push(c);
}

/** Server side of one byte stream: echo frames, or answer a push request. */
function serverHandler(
  write: (b: Buffer) => boolean | Promise<unknown>,
  waitDrain: () => Promise<void>,
): (chunk: Uint8Array) => void {
  let pushing = false;
  return splitterFeed((frame) => {
    if (frame[4] === KIND_PUSH) {
      if (pushing) return;
      pushing = true;
      const total = frame.readUInt32BE(5);
      const size = frame.readUInt32BE(9);
      void (async () => {
        const f = echoFrame(size - 4);
        for (let sent = 0; sent < total; sent += size) {
          const r = write(f);
          if (r === false) await waitDrain();
          else if (r instanceof Promise) await r;
        }
        pushing = false;
      })();
      return;
    }
    void write(frame);
  });
}

// ---------------------------------------------------------------- engine

async function engineServer(cert: Cert, maxUdpPayload?: number): Promise<BenchServer> {
  const server = createQuicServer({ host: '127.0.0.1', port: 0, tls: cert, alpn: ALPN, maxUdpPayload });
  server.onConnection = (c) => {
    let drain: (() => void) | null = null;
    c.onDrain = () => {
      const d = drain;
      drain = null;
      d?.();
    };
    c.onData = serverHandler(
      (b) => c.write(b),
      () =>
        new Promise<void>((r) => {
          drain = r;
        }),
    );
  };
  const { port } = await server.listen();
  return { port, counters: () => server.counters(), close: () => server.close() };
}

async function engineClient(port: number, cert: Cert, maxUdpPayload?: number): Promise<BenchClient> {
  const c = await connectQuic({ host: '127.0.0.1', port, caPem: cert.certPem, alpn: ALPN, maxUdpPayload });
  const bc: BenchClient = {
    send: (f) => void c.write(f),
    onFrame: () => {},
    counters: () => c.counters(),
    close: async () => c.close(0),
  };
  c.onData = splitterFeed((f) => bc.onFrame(f));
  return bc;
}

// ---------------------------------------------------------------- stock @matrixai/quic

const serverCrypto = async () => {
  const key = await webcrypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, true, ['sign', 'verify']);
  const raw = await webcrypto.subtle.exportKey('raw', key);
  const imp = (k: ArrayBuffer) =>
    webcrypto.subtle.importKey('raw', k, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  return {
    key: raw,
    ops: {
      sign: async (k: ArrayBuffer, data: ArrayBuffer) => webcrypto.subtle.sign('HMAC', await imp(k), data),
      verify: async (k: ArrayBuffer, data: ArrayBuffer, sig: ArrayBuffer) =>
        webcrypto.subtle.verify('HMAC', await imp(k), sig, data),
    },
  };
};

const clientCrypto = {
  ops: {
    randomBytes: async (data: ArrayBuffer) => {
      webcrypto.getRandomValues(new Uint8Array(data));
    },
  },
};

async function pumpStock(stream: QUICStream, onChunk: (c: Uint8Array) => void): Promise<void> {
  const reader = stream.readable.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      onChunk(r.value);
    }
  } catch {
    // stream closed
  }
}

async function stockServer(cert: Cert): Promise<BenchServer> {
  const server = new QUICServer({
    crypto: await serverCrypto(),
    config: { key: cert.keyPem, cert: cert.certPem, verifyPeer: false, applicationProtos: ALPN },
  });
  server.addEventListener(quicEvents.EventQUICServerConnection.name, (evt: Event) => {
    const conn = (evt as quicEvents.EventQUICServerConnection).detail;
    conn.addEventListener(quicEvents.EventQUICConnectionStream.name, (e: Event) => {
      const stream = (e as quicEvents.EventQUICConnectionStream).detail;
      const writer = stream.writable.getWriter();
      const feed = serverHandler(
        (b) => writer.write(b).catch(() => {}),
        () => writer.ready,
      );
      void pumpStock(stream, feed);
    });
  });
  await server.start({ host: '127.0.0.1', port: 0 });
  return { port: server.port, counters: () => null, close: () => server.stop({ force: true }) };
}

async function stockClient(port: number, _cert: Cert): Promise<BenchClient> {
  const client = await QUICClient.createQUICClient({
    host: '127.0.0.1',
    port,
    localHost: '127.0.0.1',
    crypto: clientCrypto,
    config: { verifyPeer: false, applicationProtos: ALPN },
  });
  const stream = client.connection.newStream();
  const writer = stream.writable.getWriter();
  const bc: BenchClient = {
    send: (f) => void writer.write(f).catch(() => {}),
    onFrame: () => {},
    counters: () => null,
    close: () => client.destroy({ force: true }),
  };
  void pumpStock(
    stream,
    splitterFeed((f) => bc.onFrame(f)),
  );
  return bc;
}

// ---------------------------------------------------------------- node:tls

async function tlsServer(cert: Cert): Promise<BenchServer> {
  const server = tls.createServer({ key: cert.keyPem, cert: cert.certPem, ALPNProtocols: ALPN }, (sock) => {
    sock.setNoDelay(true);
    sock.on('error', () => {});
    sock.on(
      'data',
      serverHandler(
        (b) => sock.write(b),
        () => new Promise<void>((r) => sock.once('drain', () => r())),
      ),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    counters: () => null,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

async function tlsClient(port: number, cert: Cert): Promise<BenchClient> {
  const sock = tls.connect({
    host: '127.0.0.1',
    port,
    ca: cert.certPem,
    servername: 'localhost',
    ALPNProtocols: ALPN,
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', () => resolve());
    sock.once('error', reject);
  });
  sock.setNoDelay(true);
  sock.on('error', () => {});
  const bc: BenchClient = {
    send: (f) => void sock.write(f),
    onFrame: () => {},
    counters: () => null,
    close: async () => {
      sock.destroy();
    },
  };
  sock.on(
    'data',
    splitterFeed((f) => bc.onFrame(f)),
  );
  return bc;
}

export function startServer(impl: ImplName, cert: Cert): Promise<BenchServer> {
  switch (impl) {
    case 'engine':
      return engineServer(cert);
    case 'engine-16k':
      return engineServer(cert, JUMBO);
    case 'stock':
      return stockServer(cert);
    case 'tls':
      return tlsServer(cert);
  }
}

export function connectClient(impl: ImplName, port: number, cert: Cert): Promise<BenchClient> {
  switch (impl) {
    case 'engine':
      return engineClient(port, cert);
    case 'engine-16k':
      return engineClient(port, cert, JUMBO);
    case 'stock':
      return stockClient(port, cert);
    case 'tls':
      return tlsClient(port, cert);
  }
}
