import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ClientConnection, connectQuic, createQuicServer } from '../../src/transport/quic/index.js';
import { makeTestCert } from '../helpers/certs.js';

const N = 1000;
const BATCH = 100;

test(`${N} concurrent connections each echo once`, { timeout: 60_000 }, async () => {
  const cert = await makeTestCert();
  const server = createQuicServer({ host: '127.0.0.1', port: 0, tls: cert });
  let surfaced = 0;
  server.onConnection = (c) => {
    surfaced++;
    c.onData = (d) => void c.write(d);
  };
  const { port } = await server.listen();
  const clients: ClientConnection[] = [];
  try {
    for (let i = 0; i < N; i += BATCH) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(BATCH, N - i) }, () =>
          connectQuic({ host: '127.0.0.1', port, caPem: cert.certPem, connectTimeoutMs: 20_000 }),
        ),
      );
      clients.push(...batch);
    }
    assert.equal(clients.length, N);
    // Every connection is open at once, then each echoes one message.
    const echoes = clients.map(
      (c, i) =>
        new Promise<string>((resolve) => {
          let s = '';
          const want = `msg-${i}`;
          c.onData = (d) => {
            s += Buffer.from(d).toString();
            if (s.length >= want.length) resolve(s);
          };
        }),
    );
    for (const [i, c] of clients.entries()) c.write(Buffer.from(`msg-${i}`));
    const got = await Promise.all(echoes);
    for (const [i, s] of got.entries()) assert.equal(s, `msg-${i}`);
    assert.equal(surfaced, N);
    assert.equal(server.connectionCount, N);
    const closes = clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          c.onClose = () => resolve();
        }),
    );
    for (const c of clients) c.close(0);
    await Promise.all(closes);
  } finally {
    await server.close();
  }
});
