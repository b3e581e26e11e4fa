/** The QUIC engine: a lean driver over quiche (via @matrixai/quic's native binding). */
export { type ClientConnection, connectQuic } from './client.js';
export { STREAM_REFUSED_CODE } from './connection.js';
export { createQuicServer } from './server.js';
export type {
  CloseInfo,
  EdgeStats,
  HostPort,
  QuicClientOptions,
  QuicServer,
  QuicServerOptions,
  StreamConnection,
  TlsFiles,
  TlsPem,
  TransportCounters,
} from './types.js';
