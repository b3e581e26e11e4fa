import { connectQuic, createQuicServer } from '../src/transport/quic/index.js';
import { makeTestCert } from './helpers/certs.js';
const cert = await makeTestCert();
const server = createQuicServer({ host: '127.0.0.1', port: 0, tls: cert, maxConnections: 0 });
const addr = await server.listen();
const t = Date.now();
try { await connectQuic({ host: '127.0.0.1', port: addr.port, caPem: cert.certPem, connectTimeoutMs: 3000 }); } catch (e) { console.log('rejected', (e as Error).message, Date.now() - t); }
await server.close();
